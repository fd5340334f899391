package dev.katmesh.learner;

import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.PolicyMismatch;
import dev.katmesh.training.TreePruning;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.annotation.PostConstruct;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The learner's meters (docs/operations.md lists them). Every labelled counter is registered at zero for each
 * label it can have, so dashboards and {@code rate()} see it before its first event. Gauges read the last
 * step's figures, which the stages set here.
 */
@Singleton // not a client proxy: the stages write the gauges' fields directly
public class LearnerMetrics {

    @Inject
    MeterRegistry registry;

    volatile double loss = Double.NaN;
    volatile double rewardMean = Double.NaN;
    volatile double advantageAbs = Double.NaN;
    volatile double learningRate = Double.NaN;
    volatile double clippedFraction = Double.NaN;
    volatile double heldoutPassRate = Double.NaN;
    volatile PolicyMismatch mismatch = PolicyMismatch.EMPTY;
    volatile long steps;

    private final Map<DropReason, Counter> dropped = new EnumMap<>(DropReason.class);
    private final Map<String, Counter> received = new HashMap<>();
    private Counter tokensTrained;
    private Counter trajectoriesTrained;
    private Counter groupsTrained;
    private Counter groupsTimedOut;
    private DistributionSummary staleness;
    private DistributionSummary latency;

    @PostConstruct
    void register() {
        for (DropReason r : DropReason.values()) {
            dropped.put(
                    r,
                    Counter.builder("katmesh.learner.trajectories.dropped")
                            .tag("reason", r.tag())
                            .description("Consumed scored records not trained, by reason")
                            .register(registry));
        }
        for (String s : Topics.SOURCE_TAGS) {
            received.put(
                    s,
                    Counter.builder("katmesh.learner.trajectories.received")
                            .tag("source", s)
                            .description("Scored records consumed, by source")
                            .register(registry));
        }
        Gauge.builder("katmesh.learner.loss", () -> loss)
                .description("Loss of the last optimiser step")
                .register(registry);
        Gauge.builder("katmesh.learner.reward.mean", () -> rewardMean)
                .description("Mean reward of the last step's samples")
                .register(registry);
        Gauge.builder("katmesh.learner.advantage.abs.mean", () -> advantageAbs)
                .description("Mean |advantage| of the last step's samples")
                .register(registry);
        Gauge.builder("katmesh.learner.learning.rate", () -> learningRate)
                .description("Learning rate of the last optimiser step (the stage's rate times its schedule)")
                .register(registry);
        Gauge.builder("katmesh.learner.clipped.fraction", () -> clippedFraction)
                .description("Share of the last policy-gradient step's tokens whose importance ratio was clipped")
                .register(registry);
        Gauge.builder("katmesh.learner.mismatch.kl", () -> mismatch.tokenKl())
                .tag("per", "token")
                .description("KL(behaviour || learner) of the last policy-gradient step's tokens, per token (k3)")
                .register(registry);
        Gauge.builder("katmesh.learner.mismatch.kl", () -> mismatch.sequenceKl())
                .tag("per", "sequence")
                .description("KL(behaviour || learner) of the last policy-gradient step, summed per sequence (k3)")
                .register(registry);
        Gauge.builder("katmesh.learner.offpolicy.truncated.fraction", () -> mismatch.truncatedFraction())
                .description("Share of the last step's tokens whose importance weight token_tis truncated")
                .register(registry);
        Gauge.builder("katmesh.learner.offpolicy.masked.fraction", () -> mismatch.maskedFraction())
                .description("Share of the last step's sequences a sequence-level correction masked out")
                .register(registry);
        Gauge.builder("katmesh.learner.heldout.pass.rate", () -> heldoutPassRate)
                .description("Held-out pass rate of the last evaluated version")
                .register(registry);
        Gauge.builder("katmesh.learner.steps", () -> steps)
                .description("Optimiser steps taken")
                .register(registry);
        tokensTrained = Counter.builder("katmesh.learner.tokens.trained")
                .description("Tokens with a loss term, trained (rate: tokens/s)")
                .register(registry);
        trajectoriesTrained = Counter.builder("katmesh.learner.trajectories.trained")
                .description("Trajectories trained")
                .register(registry);
        groupsTrained = Counter.builder("katmesh.learner.groups.trained")
                .description("Groups trained")
                .register(registry);
        groupsTimedOut = Counter.builder("katmesh.learner.groups.timed.out")
                .description("Groups trained incomplete after their timeout")
                .register(registry);
        for (DropReason r : new DropReason[] {DropReason.ZERO_VARIANCE, DropReason.GROUP_TOO_SMALL}) {
            registry.counter("katmesh.learner.groups.skipped", "reason", r.tag());
        }
        staleness = DistributionSummary.builder("katmesh.learner.staleness")
                .description("Policy versions between a trajectory's oldest generated segment and the learner")
                .publishPercentileHistogram()
                .register(registry);
        latency = DistributionSummary.builder("katmesh.learner.agent.to.trainer.latency")
                .baseUnit("milliseconds")
                .description("From a trajectory's publication to the gradient step that first trained it")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    /** Gauges of the published version and its age, read from the loop's state. */
    void versionGauges(LongSupplier version, LongSupplier createdAtMs) {
        Gauge.builder("katmesh.learner.policy.version", () -> version.getAsLong())
                .description("The newest policy version published")
                .register(registry);
        Gauge.builder("katmesh.learner.checkpoint.age.seconds", () -> {
                    long created = createdAtMs.getAsLong();
                    return created < 0 ? -1 : (System.currentTimeMillis() - created) / 1000.0;
                })
                .description("Age of the newest checkpoint")
                .register(registry);
    }

    void received(String sourceTag) {
        received.computeIfAbsent(sourceTag, s -> registry.counter("katmesh.learner.trajectories.received", "source", s))
                .increment();
    }

    void dropped(DropReason reason, int n) {
        dropped.get(reason).increment(n);
    }

    void groupSkipped(DropReason reason) {
        registry.counter("katmesh.learner.groups.skipped", "reason", reason.tag())
                .increment();
    }

    void groupTimedOut() {
        groupsTimedOut.increment();
    }

    void mixed(String stage, String source, String tags) {
        registry.counter("katmesh.learner.mix.records", "stage", stage, "source", source, "tags", tags)
                .increment();
    }

    void staleness(long versionsBehind) {
        staleness.record(versionsBehind);
    }

    void latency(long ms) {
        latency.record(ms);
    }

    /** Rows tree training computed (distinct tokens), and what pruning to a stage's tree budget took away. */
    void trees(String stage, long rows, TreePruning.Counts pruned) {
        registry.counter("katmesh.learner.tree.rows", "stage", stage).increment(rows);
        if (pruned.treesOverBudget() > 0) {
            registry.counter("katmesh.learner.tree.rows.pruned", "stage", stage)
                    .increment(pruned.rowsBefore() - pruned.rowsAfter());
            registry.counter("katmesh.learner.tree.turns.pruned", "stage", stage)
                    .increment(pruned.turnsPruned());
            registry.counter("katmesh.learner.tree.over.budget", "stage", stage).increment(pruned.treesStillOver());
        }
    }

    void trained(int trajectories, int groups, long tokens) {
        trajectoriesTrained.increment(trajectories);
        groupsTrained.increment(groups);
        tokensTrained.increment(tokens);
    }
}
