package dev.katmesh.learner;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Agent-to-trainer latency per curriculum stage, over the last {@link #WINDOW} trajectories of each: the whole
 * latency, its two hops (agent → scored record: the reward's queue and scoring; scored record → trained: the
 * learner's wait for its batch and its step), and the wall time of the stage's steps, which the goal of a p99
 * within one step plus one second is measured by. Not thread-safe: {@link LearnerProgress} guards it.
 */
final class StageLatencies {

    static final int WINDOW = 512;

    private final Map<String, ArrayDeque<Long>> total = new LinkedHashMap<>();
    private final Map<String, ArrayDeque<Long>> stepMs = new LinkedHashMap<>();
    private final Map<String, ArrayDeque<Long>> rewardHop = new LinkedHashMap<>();
    private final Map<String, ArrayDeque<Long>> learnerHop = new LinkedHashMap<>();

    void step(String stage, long ms) {
        bounded(stepMs.computeIfAbsent(stage, k -> new ArrayDeque<>()), ms);
    }

    void latency(String stage, long ms) {
        bounded(total.computeIfAbsent(stage, k -> new ArrayDeque<>()), ms);
    }

    /** A latency with the part of it since the scored record was written (the learner's hop). */
    void latency(String stage, long ms, long scoredToTrainedMs) {
        latency(stage, ms);
        long learner = Math.min(ms, Math.max(0, scoredToTrainedMs));
        bounded(learnerHop.computeIfAbsent(stage, k -> new ArrayDeque<>()), learner);
        bounded(rewardHop.computeIfAbsent(stage, k -> new ArrayDeque<>()), ms - learner);
    }

    /** One object per stage with a latency: count, p50, p99, max, its steps, the goal's margin and the hops. */
    void write(ObjectNode byStage) {
        total.forEach((name, window) -> {
            long[] ms = sorted(window);
            ObjectNode one = byStage.putObject(name);
            one.put("count", ms.length);
            one.put("p50", percentile(ms, 0.50));
            one.put("p99", percentile(ms, 0.99));
            one.put("max", ms[ms.length - 1]);
            long[] steps = sorted(stepMs.getOrDefault(name, new ArrayDeque<>()));
            if (steps.length > 0) {
                one.put("step_p50_ms", percentile(steps, 0.50));
                one.put("step_max_ms", steps[steps.length - 1]);
                // The goal a deployed stage is held to: p99 within one learner step plus one second.
                one.put("p99_minus_step_max_ms", percentile(ms, 0.99) - steps[steps.length - 1]);
            }
            hop(one, "reward_hop", rewardHop.get(name));
            hop(one, "learner_hop", learnerHop.get(name));
        });
    }

    /** A hop's p50 and p99 ({@code <hop>_p50_ms}, {@code <hop>_p99_ms}) when it was measured. */
    private static void hop(ObjectNode stage, String hop, ArrayDeque<Long> window) {
        if (window != null && !window.isEmpty()) {
            long[] ms = sorted(window);
            stage.put(hop + "_p50_ms", percentile(ms, 0.50));
            stage.put(hop + "_p99_ms", percentile(ms, 0.99));
        }
    }

    /** Appends {@code value}, dropping the oldest beyond {@link #WINDOW}. */
    static void bounded(ArrayDeque<Long> window, long value) {
        window.add(value);
        while (window.size() > WINDOW) {
            window.poll();
        }
    }

    static long[] sorted(ArrayDeque<Long> window) {
        return window.stream().mapToLong(Long::longValue).sorted().toArray();
    }

    /** The nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
