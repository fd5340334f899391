package dev.katmesh.launcher.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManagedProcessTest {

    @Test
    void cpuListsAreCountedAndNonsenseIsRefused() {
        assertEquals(1, ManagedProcess.cpuCount("1"));
        assertEquals(4, ManagedProcess.cpuCount("0-2,5"));
        assertEquals(2, ManagedProcess.cpuCount("0, 3"));
        for (String bad : List.of("", "a", "2-1", "-1", "0-1-2", "1,,2")) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> ManagedProcess.cpuCount(bad), bad);
            assertTrue(e.getMessage().contains("not a CPU list"), e.getMessage());
        }
    }

    @Test
    void anUnpinnedCommandIsLeftAlone() {
        Map<String, String> env = new HashMap<>();
        assertEquals(List.of("java", "-version"), ManagedProcess.pinned(List.of("java", "-version"), null, env));
        assertTrue(env.isEmpty());
    }

    @Test
    void aPinnedProcessRunsOnlyOnItsCpusWithThatManyTorchThreads(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(new File("/usr/bin/taskset").canExecute(), "taskset (util-linux) is not installed");
        Map<String, String> env = new HashMap<>();
        Path log = dir.resolve("out.log");
        // The child prints its own affinity mask and the thread setting it was given.
        MeshState.Proc p = ManagedProcess.start(
                ManagedProcess.pinned(
                        List.of("/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status; echo OMP=$OMP_NUM_THREADS"),
                        "0",
                        env),
                log,
                dir,
                env);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (ManagedProcess.isAlive(p) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        String out = Files.readString(log);
        assertTrue(out.matches("(?s).*Cpus_allowed_list:\\s+0\\s.*"), "the child must be pinned to CPU 0: " + out);
        assertTrue(out.contains("OMP=1"), "one CPU, one intra-op thread: " + out);
    }
}
