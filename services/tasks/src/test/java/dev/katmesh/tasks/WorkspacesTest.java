package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkspacesTest {

    @Test
    void aSweepDeletesTheWorkspacesOfProcessesThatAreGoneAndNothingElse(@TempDir Path tmp) throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path dead = Files.createDirectories(
                tmp.resolve(Workspaces.PREFIX + gone.pid()).resolve("episode1/sub"));
        Files.writeString(dead.resolve("solution.py"), "print(1)\n");
        Path alive = Files.createDirectories(
                tmp.resolve(Workspaces.PREFIX + ProcessHandle.current().pid()).resolve("episode2"));
        Path other = Files.createDirectories(tmp.resolve(Workspaces.PREFIX + "not-a-pid"));

        assertEquals(1, Workspaces.sweep(tmp), "one folder of a process that is gone");
        assertFalse(
                Files.exists(tmp.resolve(Workspaces.PREFIX + gone.pid())), "the dead process's workspaces are gone");
        assertTrue(Files.isDirectory(alive), "a live process's workspaces stay");
        assertTrue(Files.isDirectory(other), "a folder that only looks like ours stays");
    }

    @Test
    void workspacesOfThisProcessLiveUnderItsOwnFolder() throws Exception {
        Path ws = Workspaces.create("episode");
        try {
            assertTrue(Files.isDirectory(ws));
            assertEquals(
                    Workspaces.PREFIX + ProcessHandle.current().pid(),
                    ws.getParent().getFileName().toString(),
                    ws.toString());
        } finally {
            TaskTests.delete(ws);
        }
    }
}
