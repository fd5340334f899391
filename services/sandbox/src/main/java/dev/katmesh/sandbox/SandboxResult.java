package dev.katmesh.sandbox;

/**
 * The outcome of a sandboxed run.
 *
 * @param verdict         how it ended
 * @param exitCode        the exit code (128 + signal when killed by a signal)
 * @param stdout          standard output, capped at the output limit (UTF-8, malformed bytes replaced)
 * @param stderr          standard error, capped likewise
 * @param outputTruncated whether either stream was cut
 * @param wallMs          wall time of the run in milliseconds
 */
public record SandboxResult(
        Verdict verdict, int exitCode, String stdout, String stderr, boolean outputTruncated, long wallMs) {}
