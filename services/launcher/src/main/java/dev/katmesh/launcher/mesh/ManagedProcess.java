package dev.katmesh.launcher.mesh;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Starting and stopping the mesh's processes. Each runs in a session of its own (setsid), so a detached
 * mesh outlives the terminal that started it and a Ctrl-C reaches only the launcher, which then stops
 * its processes in order. Output goes to a log file, never to a pipe that could fill up.
 */
public final class ManagedProcess {

    private ManagedProcess() {}

    /** Starts {@code command} with output appended to {@code log}; returns its pid and start time. */
    static MeshState.Proc start(List<String> command, Path log, Path workDir) throws IOException {
        return start(command, log, workDir, Map.of());
    }

    /** As {@link #start(List, Path, Path)}, with extra environment variables (secrets stay out of the command line). */
    static MeshState.Proc start(List<String> command, Path log, Path workDir, Map<String, String> env)
            throws IOException {
        Files.createDirectories(log.getParent());
        List<String> full = new ArrayList<>();
        if (new File("/usr/bin/setsid").canExecute()) {
            full.add("/usr/bin/setsid");
        }
        full.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(full);
        builder.environment().putAll(env);
        Process p = builder.directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        MeshState.Proc proc = new MeshState.Proc();
        proc.pid = p.pid();
        proc.startedAtMs = p.info().startInstant().map(Instant::toEpochMilli).orElse(null);
        return proc;
    }

    /** The live process recorded in {@code proc}, if it still runs (and is the same process). */
    static Optional<ProcessHandle> live(MeshState.Proc proc) {
        if (proc == null || proc.pid == null) {
            return Optional.empty();
        }
        return ProcessHandle.of(proc.pid)
                .filter(ProcessHandle::isAlive)
                .filter(h -> proc.startedAtMs == null
                        || h.info()
                                .startInstant()
                                .map(i -> Math.abs(i.toEpochMilli() - proc.startedAtMs) < 2000)
                                .orElse(true));
    }

    static boolean isAlive(MeshState.Proc proc) {
        return live(proc).isPresent();
    }

    /**
     * Stops the process: SIGTERM (graceful: Quarkus and Kafka shut down cleanly and commit), then SIGKILL
     * after {@code grace}. Returns true if it had to kill.
     */
    static boolean stop(MeshState.Proc proc, Duration grace) {
        Optional<ProcessHandle> handle = live(proc);
        if (handle.isEmpty()) {
            return false;
        }
        ProcessHandle h = handle.get();
        h.destroy();
        long deadline = System.nanoTime() + grace.toNanos();
        while (h.isAlive() && System.nanoTime() < deadline) {
            sleep(100);
        }
        boolean killed = false;
        if (h.isAlive()) {
            h.destroyForcibly();
            killed = true;
            while (h.isAlive()) {
                sleep(50);
            }
        }
        return killed;
    }

    /**
     * {@code command} run on the CPUs of {@code cpus} (a taskset list: "1", "0-1", "0,2"), or as it is for
     * null. The environment gets OMP_NUM_THREADS = the number of those CPUs: PyTorch sizes its intra-op
     * pool from the machine's cores otherwise, and its threads would contend for the few they may use
     * (the JVM itself sizes its pools from the affinity mask).
     */
    static List<String> pinned(List<String> command, String cpus, Map<String, String> env) {
        if (cpus == null || cpus.isBlank()) {
            return command;
        }
        if (!new File("/usr/bin/taskset").canExecute()) {
            throw new IllegalStateException("pinning to CPUs " + cpus + " needs taskset (Debian package util-linux)");
        }
        env.put("OMP_NUM_THREADS", Integer.toString(cpuCount(cpus)));
        List<String> full = new ArrayList<>(List.of("/usr/bin/taskset", "-c", cpus));
        full.addAll(command);
        return full;
    }

    /** The number of CPUs in a taskset list ("0-2,5" → 4); IllegalArgumentException for anything else. */
    static int cpuCount(String cpus) {
        int n = 0;
        for (String part : cpus.split(",")) {
            String[] range = part.trim().split("-");
            try {
                int from = Integer.parseInt(range[0].trim());
                int to = range.length == 2 ? Integer.parseInt(range[1].trim()) : from;
                if (range.length > 2 || from < 0 || to < from) {
                    throw new NumberFormatException();
                }
                n += to - from + 1;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a CPU list: '" + cpus + "' (expected e.g. 0, 0-1 or 0,2)");
            }
        }
        return n;
    }

    /** The java binary of the running JVM, so children run on the same Java. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
