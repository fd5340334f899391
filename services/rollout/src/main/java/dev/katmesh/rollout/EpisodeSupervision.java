package dev.katmesh.rollout;

import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.Episode;
import dev.katmesh.tasks.GroundTruths;
import dev.katmesh.tasks.RolloutSupervisor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * One episode's supervision under the rule of the version that generated its last turn (SupervisionRules); the
 * rule and its verdict end up in the trajectory's metadata, with the stage that produced the policy.
 */
final class EpisodeSupervision {
    private final Episode e;
    private final SupervisionRules rules;
    private final MeterRegistry registry;
    private RolloutSupervisor watch;

    EpisodeSupervision(Episode e, RolloutSupervisor inherited, SupervisionRules rules, MeterRegistry registry) {
        this.e = e;
        this.watch = inherited;
        this.rules = rules;
        this.registry = registry;
    }

    boolean afterTurn() {
        RolloutSupervision rule = rules.ruleOf(e.lastPolicyVersion());
        if (rule == null) {
            return false;
        }
        if (watch == null || !watch.rule().equals(rule)) {
            watch = new RolloutSupervisor(rule, GroundTruths.of(e.task));
        }
        String file = AgentTools.readSubmission(e.workspace, watch.solutionPath());
        boolean stop = watch.afterTurn(e.turns, file, e.generatedTokens());
        if (stop) {
            Counter.builder("katmesh.rollout.supervision.stopped")
                    .description("Episodes ended by their stage's supervision rule: off every reference of the task")
                    .register(registry)
                    .increment();
        }
        return stop;
    }

    RolloutSupervisor copy() {
        return watch == null ? null : watch.copy();
    }

    void note() {
        String stage = rules.stageOf(e.lastPolicyVersion());
        if (!stage.isEmpty()) {
            e.notes.put("policy_stage", stage);
        }
        if (watch == null) {
            return;
        }
        e.notes.put("supervision", RolloutSupervisor.describe(watch.rule()));
        e.notes.put("supervision_stage", watch.rule().getStage());
        e.notes.put("supervision_trace", watch.trace());
        RolloutSupervisor.Verdict v = watch.verdict();
        if (v != null) {
            e.notes.put("supervision_verdict", v.describe());
            e.notes.put("supervision_turn", Integer.toString(v.turn()));
            e.notes.put("supervision_tokens", Long.toString(v.generatedTokens()));
        }
    }
}
