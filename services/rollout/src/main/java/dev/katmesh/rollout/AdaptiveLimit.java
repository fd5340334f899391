package dev.katmesh.rollout;

/**
 * How many episodes may run at once, adapted to inference's back-pressure (additive increase,
 * multiplicative decrease): a refused or slow generate call halves the limit, a run of normal calls
 * raises it by one, always within [min, max].
 */
public final class AdaptiveLimit {

    private final int min;
    private final int max;
    private int limit;
    private int running;
    private int successes;

    AdaptiveLimit(int min, int max, int initial) {
        if (min < 1 || max < min) {
            throw new IllegalArgumentException(
                    "concurrency bounds must satisfy 1 <= min <= max, got " + min + ", " + max);
        }
        this.min = min;
        this.max = max;
        this.limit = Math.max(min, Math.min(max, initial));
    }

    /** Blocks until an episode may start. */
    public synchronized void acquire() throws InterruptedException {
        while (running >= limit) {
            wait();
        }
        running++;
    }

    public synchronized void release() {
        running--;
        notifyAll();
    }

    /** Inference refused or was slow: back off. */
    public synchronized void congested() {
        limit = Math.max(min, limit / 2);
        successes = 0;
    }

    /** A normal call: after {@code limit} of them in a row, allow one more episode. */
    public synchronized void ok() {
        if (++successes >= limit && limit < max) {
            limit++;
            successes = 0;
            notifyAll();
        }
    }

    public synchronized int limit() {
        return limit;
    }

    public synchronized int running() {
        return running;
    }
}
