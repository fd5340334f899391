package dev.katmesh.tasks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Scratch workspaces (an episode's files, a test run's, the teacher's): each process keeps its own under
 * one folder named by its pid in the temporary directory. An episode deletes its workspace when it
 * closes, but a SIGKILLed rollout process cannot; the first workspace a process asks for sweeps the
 * folders of processes that are gone, so a crash leaves nothing behind for longer than one restart.
 */
public final class Workspaces {

    static final String PREFIX = "katmesh-ws-";

    private static Path root;

    private Workspaces() {}

    /** A new empty folder for one workspace. */
    public static Path create(String prefix) throws IOException {
        return Files.createTempDirectory(root(), prefix);
    }

    private static synchronized Path root() throws IOException {
        if (root == null || !Files.isDirectory(root)) {
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            sweep(tmp);
            root = Files.createDirectories(
                    tmp.resolve(PREFIX + ProcessHandle.current().pid()));
            root.toFile()
                    .deleteOnExit(); // on a normal exit, once its workspaces are gone (only an empty folder is deleted)
        }
        return root;
    }

    /** Deletes the workspace folders under {@code tmp} of processes no longer alive; returns how many. */
    static int sweep(Path tmp) {
        int swept = 0;
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(tmp, PREFIX + "*")) {
            for (Path dir : dirs) {
                String pid = dir.getFileName().toString().substring(PREFIX.length());
                if (!pid.matches("\\d{1,18}")
                        || ProcessHandle.of(Long.parseLong(pid))
                                .map(ProcessHandle::isAlive)
                                .orElse(false)) {
                    continue; // not ours, or its process still runs (a pid reused by another process keeps it until
                    // that one ends)
                }
                try {
                    TaskTests.delete(dir);
                    swept++;
                } catch (IOException | UncheckedIOException e) {
                    // another process swept it first, or a file we may not delete: the next sweep tries again
                }
            }
        } catch (IOException e) {
            // an unreadable temporary directory: createTempDirectory will say so
        }
        return swept;
    }
}
