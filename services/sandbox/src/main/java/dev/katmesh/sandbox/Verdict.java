package dev.katmesh.sandbox;

import java.util.Locale;

/** How a sandboxed run ended. */
public enum Verdict {
    /** Exit code 0. */
    OK,
    /** Ran to the end with a nonzero exit code. */
    NONZERO_EXIT,
    /** Killed at the wall-time limit, or by the CPU-time limit. */
    TIMEOUT,
    /** Ran out of the memory it was allowed. */
    MEMORY,
    /** Wrote more output than allowed, and was killed. */
    OUTPUT_LIMIT,
    /** Killed by a signal for another reason (including its own kill). */
    KILLED;

    /** The lower-case name with dashes used in JSON: ok, nonzero-exit, timeout, memory, output-limit, killed. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
