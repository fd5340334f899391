package dev.katmesh.sandbox;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The local sandbox: bubblewrap (user, pid, network, IPC, UTS and cgroup namespaces), with only the
 * system directories read-only, a private /tmp, /proc and /dev, the workspace read-write at /workspace,
 * no network (its own empty network namespace), a clean environment, and resource limits set with
 * prlimit inside. The host's home, the project and other workspaces are simply not there.
 *
 * <p>DESIGN: when the JVM runs as root, the sandbox is first dropped to the unprivileged user nobody
 * (setpriv): the kernel does not apply RLIMIT_NPROC to root, so without that a fork bomb would not be
 * stopped. Killing bubblewrap kills the pid namespace it created, so no process outlives a run.
 */
public final class BubblewrapSandbox implements Sandbox {

    private static final int NOBODY = 65534;
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    /** Whether bwrap (and prlimit) are installed. */
    public static boolean available() {
        return Files.isExecutable(Path.of("/usr/bin/bwrap")) && Files.isExecutable(Path.of("/usr/bin/prlimit"));
    }

    @Override
    public SandboxResult run(List<String> command, Path workspace, SandboxLimits limits)
            throws IOException, InterruptedException {
        if (!available()) {
            throw new IOException("bubblewrap is not installed (apt-get install -y bubblewrap)");
        }
        if (command.isEmpty()) {
            throw new IllegalArgumentException("no command");
        }
        Files.createDirectories(workspace);
        prepareWorkspace(workspace);
        List<String> cmd = new ArrayList<>();
        if (ROOT) {
            cmd.addAll(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        }
        cmd.addAll(List.of(
                "/usr/bin/bwrap",
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/sbin",
                "/sbin",
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64"));
        for (String etc : List.of("/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime")) {
            if (Files.exists(Path.of(etc))) {
                cmd.addAll(List.of("--ro-bind", etc, etc));
            }
        }
        cmd.addAll(List.of(
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--tmpfs",
                "/tmp",
                "--bind",
                workspace.toAbsolutePath().toString(),
                "/workspace",
                "--chdir",
                "/workspace",
                "--clearenv",
                "--setenv",
                "PATH",
                "/usr/local/bin:/usr/bin:/bin",
                "--setenv",
                "HOME",
                "/workspace",
                "--setenv",
                "LANG",
                "C.UTF-8",
                // Python's bytecode cache is keyed by the source's mtime in seconds and its size: a file rewritten
                // within the second with the same length (an agent fixing [3::2] to [1::2]) ran the stale bytecode.
                "--setenv",
                "PYTHONDONTWRITEBYTECODE",
                "1",
                "--hostname",
                "sandbox",
                "--",
                "/usr/bin/prlimit",
                // Soft limit first (SIGXCPU: a clear "timeout"), the hard one a second later (SIGKILL).
                "--cpu=" + limits.cpuSeconds() + ":" + (limits.cpuSeconds() + 1),
                "--as=" + limits.memoryBytes(),
                "--nproc=" + limits.maxProcesses(),
                "--fsize=" + limits.maxFileBytes(),
                "--core=0",
                "--"));
        cmd.addAll(command);

        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
        AtomicBoolean overflow = new AtomicBoolean();
        Capture out = new Capture(p.getInputStream(), limits.maxOutputBytes(), overflow, p);
        Capture err = new Capture(p.getErrorStream(), limits.maxOutputBytes(), overflow, p);
        out.start();
        err.start();
        boolean finished = p.waitFor(limits.wallTime().toMillis(), TimeUnit.MILLISECONDS);
        if (!finished) {
            kill(p);
        }
        p.waitFor();
        out.join(5000);
        err.join(5000);
        long wallMs = (System.nanoTime() - start) / 1_000_000;
        int exit = p.exitValue();
        String stderr = err.text();
        Verdict verdict;
        if (overflow.get()) {
            verdict = Verdict.OUTPUT_LIMIT;
        } else if (!finished || exit == 128 + 24 /* SIGXCPU */ || exit == 24) {
            verdict = Verdict.TIMEOUT;
        } else if (exit != 0 && outOfMemory(stderr)) {
            verdict = Verdict.MEMORY;
        } else if (exit == 0) {
            verdict = Verdict.OK;
        } else if (exit > 128 && exit < 128 + 65) {
            verdict = Verdict.KILLED;
        } else {
            verdict = Verdict.NONZERO_EXIT;
        }
        return new SandboxResult(
                verdict, finished ? exit : 137, out.text(), stderr, out.truncated() || err.truncated(), wallMs);
    }

    private static boolean outOfMemory(String stderr) {
        return stderr.contains("MemoryError")
                || stderr.contains("Cannot allocate memory")
                || stderr.contains("bad_alloc")
                || stderr.contains("out of memory")
                || stderr.contains("Out of memory");
    }

    /**
     * The sandbox user must be able to write the workspace, and to reach it: its ancestors get the
     * search permission for others (o+x: pass through, not list) where they lack it.
     */
    private static void prepareWorkspace(Path workspace) throws IOException {
        if (ROOT) {
            for (Path dir = workspace.toAbsolutePath().getParent();
                    dir != null && dir.getParent() != null;
                    dir = dir.getParent()) {
                var perms = Files.getPosixFilePermissions(dir);
                if (!perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                    perms.add(PosixFilePermission.OTHERS_EXECUTE);
                    Files.setPosixFilePermissions(dir, perms);
                }
            }
            try (var walk = Files.walk(workspace)) {
                for (Path f : walk.toList()) {
                    Files.setAttribute(f, "unix:uid", NOBODY);
                    Files.setAttribute(f, "unix:gid", NOBODY);
                }
            }
        } else {
            Files.setPosixFilePermissions(workspace, PosixFilePermissions.fromString("rwxrwxrwx"));
        }
    }

    /** Kills bubblewrap and everything below it (its pid namespace dies with it). */
    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** Reads a stream to its end, keeping at most {@code cap} bytes; past the cap, kills the run. */
    private static final class Capture extends Thread {
        private final InputStream in;
        private final int cap;
        private final AtomicBoolean overflow;
        private final Process process;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private volatile boolean truncated;

        Capture(InputStream in, int cap, AtomicBoolean overflow, Process process) {
            super("sandbox-output");
            setDaemon(true);
            this.in = in;
            this.cap = cap;
            this.overflow = overflow;
            this.process = process;
        }

        @Override
        public void run() {
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0; ) {
                    int room = cap - kept.size();
                    if (room > 0) {
                        kept.write(buf, 0, Math.min(room, n));
                    }
                    if (n > room) {
                        truncated = true;
                        overflow.set(true);
                        kill(process);
                        break;
                    }
                }
            } catch (IOException e) {
                // the process is gone
            }
        }

        String text() {
            return kept.toString(StandardCharsets.UTF_8);
        }

        boolean truncated() {
            return truncated;
        }
    }
}
