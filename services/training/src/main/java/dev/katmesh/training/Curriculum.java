package dev.katmesh.training;

import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.proto.wire.ScoredRange;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The curriculum: stages the learner runs in order (KAT-Coder: mid-term training, SFT, RFT,
 * reinforcement-to-deployment adaptation), declared in a YAML file:
 *
 * <pre>
 * stages:
 *   - name: midterm
 *     objective: lm                    # lm | sft | error_masked_sft | policy_gradient
 *     sources:
 *       - {file: corpus.jsonl, weight: 1}
 *     steps: 200                       # end condition: optimiser steps in this stage...
 *     batch: 8                         # samples per step (file sources)
 *     learning_rate: 3e-4
 *   - name: sft
 *     objective: sft
 *     sources:
 *       - {file: sft.jsonl, weight: 3}
 *       - {file: tool-use.jsonl, weight: 1}
 *     balance_by: [language, task_type] # draw evenly across these tags' values
 *     steps: 300
 *     lr_schedule: {kind: cosine, warmup_steps: 10, min_ratio: 0.1}   # constant (default) | cosine | linear
 *   - name: rft
 *     objective: policy_gradient
 *     sources:
 *       - {topic: katmesh.trajectories.scored, source: rollout}
 *     until: {metric: reward_mean, at_least: 0.8}   # ...or a metric (with steps as a cap)
 *     steps: 1000
 *     max_trajectories: 4000           # ...or a budget: ends after reading this many of its source, trained or not
 *     version_every: 2                 # a policy version every 2 steps here (default: the learner's setting)
 *     updates_per_batch: 2             # optimiser updates on each batch of groups (GRPO's mu; default 1)
 *     off_policy: {correction: token_tis, cap: 2}   # none (default) | token_tis | sequence_mis | geometric_mis
 *     advantage_shaping: {kind: pass_rate, threshold: 1.0, strength: 1.0}   # none (default) | pass_rate
 *     rollout_supervision: {max_discrepancy: 0.9, patience: 2, grace_turns: 2, enforce: true}   # absent: none
 *   - name: rft-shaped                 # a second arm of RFT, from the same SFT checkpoint, to compare with rft
 *     objective: policy_gradient
 *     from_stage: sft                  # start from that earlier stage's last version (fresh optimiser), not the last
 *     sources:
 *       - {topic: katmesh.trajectories.scored, source: rollout}
 *     steps: 1000
 *     advantage_shaping: {kind: pass_rate}
 *   - name: replay-last-week             # a fixed range of the scored log, each record once; ends with the range
 *     objective: error_masked_sft
 *     sources:
 *       - replay: {source: deployed, from: 2026-11-30T00:00:00Z, to: 2026-12-07T00:00:00Z, min_reward: 0.5}
 *   - name: adapt
 *     objective: error_masked_sft
 *     sources:
 *       - {topic: katmesh.trajectories.scored, source: deployed}
 *     min_reward: 0.5                  # only sessions scored at least this (SFT stages on a topic)
 *     taskless: exclude                # include (default) | exclude | only: trajectories scored without a task
 *     steps: 100
 *     method: lora                     # full | lora (default: the learner's, LoRA for models above 100M)
 *     tree_budget: 8192                # each session tree pruned to this many tokens (TreePruning; absent: none)
 *     lora: {rank: 16, alpha: 32, targets: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]}
 * </pre>
 *
 * File paths are relative to the curriculum file. The learner records the stage and its step in each
 * checkpoint and resumes mid-stage.
 */
public record Curriculum(List<Stage> stages) {

    /** What a stage optimises. */
    public enum Kind {
        /** Next-token loss on every token (mid-term training on a corpus of text). */
        LM,
        /** Next-token loss on the assistant's tokens. */
        SFT,
        /** SFT without loss on the tokens of erroneous turns, which stay in context. */
        ERROR_MASKED_SFT,
        /** Clipped policy gradient with group-relative advantages. */
        POLICY_GRADIENT
    }

    /**
     * One data source: a JSONL file, the scored topic as it grows (with an optional trajectory-source filter), or a
     * fixed range of the scored log replayed ({@code replay}: its time, offsets and selection).
     */
    public record Source(Path file, String topic, String trajectorySource, double weight, ScoredRange replay) {
        public Source(Path file, String topic, String trajectorySource, double weight) {
            this(file, topic, trajectorySource, weight, null);
        }

        public boolean isTopic() {
            return topic != null;
        }

        public boolean isReplay() {
            return replay != null;
        }
    }

    /** What a topic stage does with taskless trajectories (scored without a task: no verified evidence). */
    public enum Taskless {
        INCLUDE,
        EXCLUDE,
        ONLY;

        /** Whether a trajectory so flagged is trained by such a stage. */
        public boolean admits(boolean taskless) {
            return this == INCLUDE || (this == ONLY) == taskless;
        }
    }

    /** An end condition on a metric: the stage ends once the metric reaches the value. */
    public record Until(String metric, double atLeast) {}

    /**
     * @param maxTrajectories topic stages: the stage ends once it has read this many trajectories of its source since
     *                     it (re)started, trained or dropped (another source's records do not count); {@link
     *                     Long#MAX_VALUE}: no budget. Without one, a policy that never produces a group with reward
     *                     variance (or a session above {@code minReward}) waits for one for ever.
     * @param versionEvery a new policy version every this many steps of the stage (0: the learner's setting)
     * @param minReward    topic stages with an SFT objective train only trajectories scored at least this
     *                     (rejection sampling of deployed sessions); NaN: all
     * @param updatesPerBatch policy-gradient stages: optimiser updates on each batch of groups (GRPO's μ,
     *                     Shao et al., 2024). The first is on the samples' own policy (up to staleness); the
     *                     later ones are off-policy by the updates before them, which the clipped importance
     *                     ratio bounds. Where generation costs far more than a step, μ > 1 learns more from
     *                     each sample.
     * @param schedule     the learning rate over the stage's steps, a factor of {@code learningRate}
     * @param taskless     topic stages: whether trajectories scored without a task (their reward rests on no
     *                     verified evidence) are trained: {@code include} (the default), {@code exclude}, {@code only}
     * @param method       full fine-tuning or LoRA adapters; null: the learner's default for its model
     * @param batchWaitMs  supervised stages on a topic: the longest an admitted trajectory waits for its batch to fill
     *                     before the batch trains with what it has (latency against batch size: a trajectory then
     *                     trains within about one step plus this wait and the learner's poll); -1: the learner's
     *                     group-timeout
     * @param offPolicy    policy-gradient stages: the correction for samples of another policy
     * @param advantageShaping policy-gradient stages: advantages rescaled by each group's pass rate
     * @param fromStage    the name of an earlier stage whose last version this one starts from (its weights, a fresh
     *                     optimiser; that version's checkpoint is kept): arms of an experiment that start alike; null:
     *                     from wherever the stage before it ended
     * @param rolloutSupervision policy-gradient stages: how the rollout service supervises the episodes of this stage's
     *                     versions (announced with each version); null: not at all
     * @param treeBudget   supervised stages on the scored log: each tree of a batch pruned to at most this many
     *                     tokens before training ({@link TreePruning}); 0: not pruned
     */
    public record Stage(
            String name,
            Kind kind,
            List<Source> sources,
            long steps,
            Until until,
            long maxTrajectories,
            int batch,
            double learningRate,
            List<String> balanceBy,
            int versionEvery,
            double minReward,
            int updatesPerBatch,
            LearningRateSchedule schedule,
            Taskless taskless,
            TrainingMethod method,
            long batchWaitMs,
            OffPolicyCorrection offPolicy,
            AdvantageShaping advantageShaping,
            String fromStage,
            RolloutSupervision rolloutSupervision,
            int treeBudget) {
        public boolean fromTopic() {
            return sources.stream().anyMatch(Source::isTopic);
        }

        /** A stage that replays a range of the scored log (its one source). */
        public boolean fromReplay() {
            return sources.size() == 1 && sources.get(0).isReplay();
        }
    }

    /** The default when no file is given: one RFT stage on the scored topic, without end. */
    public static Curriculum rftOnly(double learningRate) {
        return new Curriculum(List.of(new Stage(
                "rft",
                Kind.POLICY_GRADIENT,
                List.of(new Source(null, "katmesh.trajectories.scored", null, 1)),
                Long.MAX_VALUE,
                null,
                Long.MAX_VALUE,
                0,
                learningRate,
                List.of(),
                0,
                Double.NaN,
                1,
                LearningRateSchedule.CONSTANT,
                Taskless.INCLUDE,
                null,
                -1,
                OffPolicyCorrection.NONE,
                AdvantageShaping.NONE,
                null,
                null,
                0)));
    }

    /** Reads a curriculum file ({@link CurriculumFile}): every stage checked, with the file and stage in each error. */
    public static Curriculum load(Path file, double defaultLearningRate) {
        return CurriculumFile.load(file, defaultLearningRate);
    }

    /**
     * LoRA stages in a row train the same adapters on, so they must agree on the adapters' shape (a full stage between
     * them merges the first adapters into the weights and ends them).
     */
    static void requireOneAdapterShape(String file, List<Stage> stages) {
        for (int i = 1; i < stages.size(); i++) {
            TrainingMethod a = stages.get(i - 1).method();
            TrainingMethod b = stages.get(i).method();
            if (a != null && b != null && a.isLora() && b.isLora() && !a.lora().equals(b.lora())) {
                throw new IllegalArgumentException(file + ": stages '"
                        + stages.get(i - 1).name() + "' and '"
                        + stages.get(i).name() + "' train the same adapters in a row, so their lora settings must"
                        + " be equal (" + a + " against " + b + ")");
            }
        }
    }

    /**
     * These stages with {@code method} wherever a stage names none (the learner's default for its model), checked as a
     * file's stages are.
     */
    public Curriculum withDefaultMethod(TrainingMethod method) {
        List<Stage> out = new ArrayList<>();
        for (Stage s : stages) {
            out.add(
                    s.method() != null
                            ? s
                            : new Stage(
                                    s.name(),
                                    s.kind(),
                                    s.sources(),
                                    s.steps(),
                                    s.until(),
                                    s.maxTrajectories(),
                                    s.batch(),
                                    s.learningRate(),
                                    s.balanceBy(),
                                    s.versionEvery(),
                                    s.minReward(),
                                    s.updatesPerBatch(),
                                    s.schedule(),
                                    s.taskless(),
                                    method,
                                    s.batchWaitMs(),
                                    s.offPolicy(),
                                    s.advantageShaping(),
                                    s.fromStage(),
                                    s.rolloutSupervision(),
                                    s.treeBudget()));
        }
        requireOneAdapterShape("the curriculum with the default method " + method, out);
        return new Curriculum(List.copyOf(out));
    }

    /** The index of the stage named {@code name}, or 0 when absent (a fresh start). */
    public int indexOf(String name) {
        for (int i = 0; i < stages.size(); i++) {
            if (stages.get(i).name().equals(name)) {
                return i;
            }
        }
        return 0;
    }

    /** The objective of a stage: SFT kinds use the token mean; RL uses the given clip, KL and aggregation. */
    public static Objective objective(
            Stage stage, double epsLow, double epsHigh, double klBeta, LossAggregation aggregation) {
        return stage.kind() == Kind.POLICY_GRADIENT
                ? new Objective(Objective.Kind.POLICY_GRADIENT, epsLow, epsHigh, klBeta, aggregation)
                        .withCorrection(stage.offPolicy())
                : Objective.sft();
    }
}
