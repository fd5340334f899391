package dev.katmesh.sandbox;

import java.time.Duration;

/**
 * What a sandboxed run may use.
 *
 * @param wallTime       killed after this long (verdict timeout)
 * @param cpuSeconds     CPU time (RLIMIT_CPU; verdict timeout)
 * @param memoryBytes    address space (RLIMIT_AS; verdict memory when allocation fails)
 * @param maxProcesses   processes and threads of the sandbox user (RLIMIT_NPROC): stops fork bombs
 * @param maxOutputBytes stdout and stderr each; more kills the run (verdict output-limit)
 * @param maxFileBytes   largest file it may write (RLIMIT_FSIZE)
 */
public record SandboxLimits(
        Duration wallTime, long cpuSeconds, long memoryBytes, int maxProcesses, int maxOutputBytes, long maxFileBytes) {

    public static SandboxLimits defaults() {
        return new SandboxLimits(Duration.ofSeconds(30), 30, 1L << 30, 64, 1 << 20, 64L << 20);
    }

    public SandboxLimits withWallTime(Duration d) {
        return new SandboxLimits(
                d,
                Math.max(1, Math.min(cpuSeconds, d.toSeconds() + 1)),
                memoryBytes,
                maxProcesses,
                maxOutputBytes,
                maxFileBytes);
    }

    public SandboxLimits withMemoryBytes(long bytes) {
        return new SandboxLimits(wallTime, cpuSeconds, bytes, maxProcesses, maxOutputBytes, maxFileBytes);
    }

    public SandboxLimits withMaxOutputBytes(int bytes) {
        return new SandboxLimits(wallTime, cpuSeconds, memoryBytes, maxProcesses, bytes, maxFileBytes);
    }
}
