package dev.katmesh.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Verdicts, and hostile programs contained — each in a test. */
class BubblewrapSandboxTest {

    static final Sandbox SANDBOX = new BubblewrapSandbox();

    @TempDir
    Path tmp;

    @BeforeAll
    static void needsBubblewrap() {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
    }

    SandboxResult run(SandboxLimits limits, String... command) throws Exception {
        return SANDBOX.run(List.of(command), tmp.resolve("ws"), limits);
    }

    static SandboxLimits limits(int seconds) {
        return SandboxLimits.defaults().withWallTime(Duration.ofSeconds(seconds));
    }

    @Test
    void okAndNonzeroExit() throws Exception {
        SandboxResult ok = run(limits(10), "sh", "-c", "echo hello; echo oops >&2");
        assertEquals(Verdict.OK, ok.verdict());
        assertEquals("hello\n", ok.stdout());
        assertEquals("oops\n", ok.stderr());
        SandboxResult three = run(limits(10), "sh", "-c", "exit 3");
        assertEquals(Verdict.NONZERO_EXIT, three.verdict());
        assertEquals(3, three.exitCode());
    }

    @Test
    void theWorkspaceIsTheWorkingDirectoryAndPersists() throws Exception {
        Files.createDirectories(tmp.resolve("ws"));
        Files.writeString(tmp.resolve("ws/input.txt"), "42");
        SandboxResult r = run(limits(10), "sh", "-c", "pwd; cat input.txt; echo out > result.txt");
        assertEquals("/workspace\n42", r.stdout());
        assertEquals("out\n", Files.readString(tmp.resolve("ws/result.txt")));
    }

    @Test
    void aModuleRewrittenWithinTheSecondAtTheSameSizeIsImportedAfresh() throws Exception {
        Path ws = Files.createDirectories(tmp.resolve("ws"));
        Files.writeString(ws.resolve("m.py"), "X = '[3::2]'\n");
        assertEquals(
                "[3::2]\n",
                run(limits(10), "python3", "-c", "import m; print(m.X)").stdout());
        Files.writeString(ws.resolve("m.py"), "X = '[1::2]'\n"); // same length, same second
        assertEquals(
                "[1::2]\n",
                run(limits(10), "python3", "-c", "import m; print(m.X)").stdout(),
                "no stale bytecode from the first import");
        assertFalse(Files.exists(ws.resolve("__pycache__")), "nothing cached in the workspace");
    }

    @Test
    void sleepingPastTheTimeoutIsKilledOnTime() throws Exception {
        SandboxResult r = run(limits(2), "sleep", "60");
        assertEquals(Verdict.TIMEOUT, r.verdict());
        assertEquals(137, r.exitCode());
        assertTrue(r.wallMs() >= 1900 && r.wallMs() < 6000, "killed at about 2 s, took " + r.wallMs());
    }

    @Test
    void anInfiniteLoopHitsTheCpuLimit() throws Exception {
        SandboxLimits l = new SandboxLimits(Duration.ofSeconds(20), 1, 1L << 30, 64, 1 << 20, 1 << 20);
        SandboxResult r = run(l, "sh", "-c", "while :; do :; done");
        assertEquals(Verdict.TIMEOUT, r.verdict());
        assertTrue(r.wallMs() < 10_000, "stopped by 1 s of CPU, not the 20 s wall limit: " + r.wallMs());
    }

    @Test
    void aMemoryBombRunsOutOfMemory() throws Exception {
        SandboxResult r = run(limits(20).withMemoryBytes(256L << 20), "python3", "-c", "x = bytearray(4 * 1024 ** 3)");
        assertEquals(Verdict.MEMORY, r.verdict(), r.stderr());
    }

    @Test
    void aGigabyteOfOutputIsCutAndStopped() throws Exception {
        SandboxResult r = run(limits(30).withMaxOutputBytes(64 * 1024), "head", "-c", "1000000000", "/dev/zero");
        assertEquals(Verdict.OUTPUT_LIMIT, r.verdict());
        assertEquals(64 * 1024, r.stdout().length());
        assertTrue(r.outputTruncated());
        assertTrue(r.wallMs() < 10_000, "stopped at the limit, not after a gigabyte: " + r.wallMs());
    }

    @Test
    void aForkBombIsContainedAndLeavesNothingBehind() throws Exception {
        // The bomb's processes are told apart by a marker in their command line (bash's $0, which every fork keeps), so
        // that other sandboxes running on the machine (a mesh, another build) do not count.
        String marker = "katmesh-fork-bomb-" + UUID.randomUUID();
        CompletableFuture<SandboxResult> bomb = CompletableFuture.supplyAsync(() -> {
            try {
                return run(limits(5), "bash", "-c", "b() { b | b & }; b; sleep 3; echo still-here", marker);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long seen = 0;
        while (!bomb.isDone()) {
            seen = Math.max(seen, processesOf(marker));
            Thread.sleep(50);
        }
        SandboxResult r = bomb.get();
        assertTrue(r.verdict() != Verdict.OK || r.stdout().contains("still-here"), r.toString());
        assertTrue(seen > 0, "the bomb's processes were seen while it ran (else the count below proves nothing)");
        long left = -1;
        for (int i = 0; i < 50 && left != 0; i++) { // the pid namespace's processes die with it, within moments
            Thread.sleep(100);
            left = processesOf(marker);
        }
        assertEquals(0, left, "no sandbox process outlives its run");
        assertEquals(Verdict.OK, run(limits(10), "true").verdict(), "the host can still start processes");
    }

    private static long processesOf(String marker) {
        return ProcessHandle.allProcesses()
                .filter(h -> h.info().commandLine().map(c -> c.contains(marker)).orElse(false))
                .count();
    }

    @Test
    void thereIsNoNetwork() throws Exception {
        AtomicBoolean accepted = new AtomicBoolean();
        try (ServerSocket server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try {
                    server.accept().close();
                    accepted.set(true);
                } catch (Exception e) {
                    // closed
                }
            });
            t.setDaemon(true);
            t.start();
            SandboxResult r = run(
                    limits(10),
                    "python3",
                    "-c",
                    "import socket; socket.create_connection(('127.0.0.1', " + server.getLocalPort()
                            + "), 2); print('connected')");
            assertEquals(Verdict.NONZERO_EXIT, r.verdict(), r.toString());
            assertFalse(r.stdout().contains("connected"));
            assertFalse(accepted.get(), "the host's loopback is not reachable from the sandbox");
            SandboxResult ifaces = run(limits(10), "sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1");
            assertEquals("lo", ifaces.stdout().trim(), "only its own loopback");
        }
    }

    @Test
    void writesOutsideTheWorkspaceFailOrStayPrivate() throws Exception {
        String marker = "katmesh-sandbox-" + System.nanoTime();
        SandboxResult r = run(
                limits(10),
                "sh",
                "-c",
                "echo x > /usr/" + marker + " || echo usr-refused; echo x > /etc/" + marker
                        + " || echo etc-refused; echo x > /tmp/" + marker + " && echo tmp-private");
        assertTrue(r.stdout().contains("usr-refused"), "system directories are read-only: " + r);
        assertFalse(
                Files.exists(Path.of("/usr", marker)) || Files.exists(Path.of("/etc", marker)),
                "nothing reaches the host");
        assertFalse(Files.exists(Path.of("/tmp", marker)), "the sandbox's /tmp is its own");
    }

    @Test
    void theHostsFilesAndOtherWorkspacesAreNotThere() throws Exception {
        Path other = tmp.resolve("other-workspace");
        Files.createDirectories(other);
        Files.writeString(other.resolve("secret.txt"), "other task's answer");
        Path project = Path.of("pom.xml").toAbsolutePath();
        SandboxResult r = run(
                limits(10),
                "sh",
                "-c",
                "cat " + other.resolve("secret.txt") + "; cat " + project
                        + "; ls /root; cat /etc/shadow; cat /etc/passwd; echo end");
        assertFalse(r.stdout().contains("other task's answer"), r.stdout());
        assertFalse(r.stdout().contains("<project"), "the project is not visible");
        assertTrue(r.stdout().trim().endsWith("end"), r.stdout());
        assertTrue(r.stderr().contains("No such file"), r.stderr());
    }

    @Test
    void killingItsParentKillsOnlyItself() throws Exception {
        SandboxResult r = run(limits(10), "sh", "-c", "kill -9 $PPID; kill -9 1; kill -9 -1; sleep 2; echo survived");
        assertTrue(
                r.verdict() == Verdict.KILLED || r.verdict() == Verdict.OK || r.verdict() == Verdict.NONZERO_EXIT,
                r.toString());
        assertTrue(ProcessHandle.current().isAlive());
        assertEquals(Verdict.OK, run(limits(10), "echo", "next").verdict(), "the next run works");
    }
}
