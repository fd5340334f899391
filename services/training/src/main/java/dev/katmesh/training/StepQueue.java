package dev.katmesh.training;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Complete groups waiting for an optimiser step of an RL stage, with the two filters that decide what a
 * step may train:
 * <ul>
 *   <li><b>dynamic sampling</b> (DAPO): a group whose rewards are all equal has zero advantage everywhere,
 *       so it is dropped as it arrives ({@link #ZERO_VARIANCE}; a group of one, {@link #TOO_SMALL}), and a step
 *       waits for {@code groupsPerStep} groups that teach something;</li>
 *   <li>the <b>staleness gate</b> at training time: a queued group that fell more than η versions behind
 *       the learner while it waited is dropped ({@link #STALE}) — with η = 0, a group left over from one
 *       step is stale by the next.</li>
 * </ul>
 * Dropped groups go to a listener (the learner counts them and releases their offsets). Not thread-safe:
 * one training loop owns it.
 *
 * @param <M> a group member (a trajectory with its reward and the oldest policy version that generated it)
 */
public final class StepQueue<M> {

    public static final String ZERO_VARIANCE = "zero_variance";
    public static final String TOO_SMALL = "group_too_small";
    public static final String STALE = "stale";

    private final ArrayDeque<List<M>> groups = new ArrayDeque<>();
    private final int groupsPerStep;
    private final StalenessGate gate;
    private final ToDoubleFunction<M> reward;
    private final ToLongFunction<M> oldestVersion;
    private final BiConsumer<List<M>, String> dropped;

    /**
     * @param gate          the staleness bound, or null for a supervised stage (no filter at all: every group
     *                      is queued, and each is a step)
     * @param oldestVersion of a member: -1 when unknown (never stale)
     */
    public StepQueue(
            int groupsPerStep,
            StalenessGate gate,
            ToDoubleFunction<M> reward,
            ToLongFunction<M> oldestVersion,
            BiConsumer<List<M>, String> dropped) {
        if (groupsPerStep < 1) {
            throw new IllegalArgumentException("groupsPerStep must be >= 1, got " + groupsPerStep);
        }
        this.groupsPerStep = gate == null ? 1 : groupsPerStep;
        this.gate = gate;
        this.reward = reward;
        this.oldestVersion = oldestVersion;
        this.dropped = dropped;
    }

    /** Queues a complete group, or drops it (see the class comment). */
    public void offer(List<M> group) {
        if (gate != null && group.size() < 2) {
            dropped.accept(group, TOO_SMALL);
        } else if (gate != null
                && !AdvantageEstimator.hasSignal(
                        group.stream().mapToDouble(reward).toArray())) {
            dropped.accept(group, ZERO_VARIANCE);
        } else {
            groups.add(List.copyOf(group));
        }
    }

    /** Drops the queued groups with a member more than η versions behind {@code currentVersion}. */
    public void dropStale(long currentVersion) {
        if (gate == null) {
            return;
        }
        for (Iterator<List<M>> it = groups.iterator(); it.hasNext(); ) {
            List<M> g = it.next();
            if (g.stream()
                    .anyMatch(m -> !gate.decide(oldestVersion.applyAsLong(m), currentVersion)
                            .accepted())) {
                it.remove();
                dropped.accept(g, STALE);
            }
        }
    }

    /** Whether a step's worth of groups is queued. */
    public boolean ready() {
        return groups.size() >= groupsPerStep;
    }

    /** The next step's groups, oldest first (at most {@code groupsPerStep}). */
    public List<List<M>> take() {
        List<List<M>> step = new ArrayList<>();
        while (step.size() < groupsPerStep && !groups.isEmpty()) {
            step.add(groups.poll());
        }
        return step;
    }

    public int size() {
        return groups.size();
    }

    /** Everything queued, in order (the learner releases them at the end of a stage). */
    public List<List<M>> drain() {
        List<List<M>> all = new ArrayList<>(groups);
        groups.clear();
        return all;
    }
}
