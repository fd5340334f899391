package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.katmesh.proto.wire.ScoredRange;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

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
            AdvantageShaping advantageShaping) {
        public boolean fromTopic() {
            return sources.stream().anyMatch(Source::isTopic);
        }

        /** A stage that replays a range of the scored log (its one source). */
        public boolean fromReplay() {
            return sources.size() == 1 && sources.get(0).isReplay();
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

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
                AdvantageShaping.NONE)));
    }

    public static Curriculum load(Path file, double defaultLearningRate) {
        JsonNode root;
        try {
            root = YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not readable YAML: " + e.getMessage(), e);
        }
        if (root == null
                || !root.path("stages").isArray()
                || root.path("stages").isEmpty()) {
            throw new IllegalArgumentException(file + ": a non-empty 'stages' list is required");
        }
        Path base = file.toAbsolutePath().getParent();
        List<Stage> stages = new ArrayList<>();
        for (JsonNode s : root.path("stages")) {
            String name = s.path("name").asText("");
            String where = file + ": stage '" + name + "'";
            if (name.isBlank()) {
                throw new IllegalArgumentException(file + ": every stage needs a name");
            }
            Kind kind;
            try {
                kind = Kind.valueOf(s.path("objective").asText("").toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        where + ": objective must be lm, sft, error_masked_sft or policy_gradient");
            }
            List<Source> sources = new ArrayList<>();
            for (JsonNode src : s.path("sources")) {
                double weight = src.path("weight").asDouble(1);
                if (!(weight > 0)) {
                    throw new IllegalArgumentException(where + ": source weights must be > 0");
                }
                if (src.hasNonNull("file")) {
                    sources.add(new Source(base.resolve(src.get("file").asText()), null, null, weight));
                } else if (src.hasNonNull("topic")) {
                    sources.add(new Source(
                            null, src.get("topic").asText(), src.path("source").asText(null), weight));
                } else if (src.has("replay")) {
                    sources.add(new Source(null, null, null, weight, replay(src.get("replay"), where)));
                } else {
                    throw new IllegalArgumentException(where + ": a source needs 'file', 'topic' or 'replay'");
                }
            }
            if (sources.isEmpty()) {
                throw new IllegalArgumentException(where + ": at least one source is required");
            }
            boolean replay = sources.stream().anyMatch(Source::isReplay);
            if (replay && (sources.size() > 1 || kind == Kind.POLICY_GRADIENT || kind == Kind.LM)) {
                throw new IllegalArgumentException(where + ": a replay is the one source of an sft or error_masked_sft"
                        + " stage (a replayed group's samples come from versions long past: policy gradient is not"
                        + " offered on them)");
            }
            boolean topic = sources.stream().anyMatch(Source::isTopic);
            if (topic && sources.stream().anyMatch(x -> !x.isTopic())) {
                throw new IllegalArgumentException(where + ": a stage reads either files or a topic, not both");
            }
            if (!topic && !replay && kind == Kind.POLICY_GRADIENT) {
                throw new IllegalArgumentException(where + ": policy_gradient needs scored trajectories from a topic");
            }
            Until until = s.has("until")
                    ? new Until(
                            s.path("until").path("metric").asText(),
                            s.path("until").path("at_least").asDouble())
                    : null;
            long maxTrajectories = s.path("max_trajectories").asLong(Long.MAX_VALUE);
            if (s.has("max_trajectories") && (!topic || maxTrajectories <= 0)) {
                throw new IllegalArgumentException(
                        where + ": max_trajectories (> 0) is a budget of a stage on a topic");
            }
            long steps =
                    s.path("steps").asLong(until == null && !s.has("max_trajectories") && !replay ? 0 : Long.MAX_VALUE);
            if (steps <= 0) {
                throw new IllegalArgumentException(
                        where + ": 'steps' (> 0), 'until' or 'max_trajectories' is required");
            }
            List<String> balance = new ArrayList<>();
            s.path("balance_by").forEach(t -> balance.add(t.asText()));
            int versionEvery = s.path("version_every").asInt(0);
            if (versionEvery < 0) {
                throw new IllegalArgumentException(where + ": version_every must be >= 0");
            }
            double minReward = s.hasNonNull("min_reward") ? s.get("min_reward").asDouble() : Double.NaN;
            if (!Double.isNaN(minReward) && (kind == Kind.POLICY_GRADIENT || !topic)) {
                throw new IllegalArgumentException(
                        where + ": min_reward filters scored trajectories of an SFT stage on a topic");
            }
            int updates = s.path("updates_per_batch").asInt(1);
            if (updates < 1 || (updates > 1 && kind != Kind.POLICY_GRADIENT)) {
                throw new IllegalArgumentException(
                        where + ": updates_per_batch must be >= 1, and above 1 only for policy_gradient");
            }
            LearningRateSchedule schedule = schedule(s.path("lr_schedule"), where);
            if (schedule.kind() != LearningRateSchedule.Kind.CONSTANT && steps == Long.MAX_VALUE) {
                throw new IllegalArgumentException(
                        where + ": a decaying lr_schedule needs 'steps' (it decays over them)");
            }
            Taskless taskless;
            try {
                taskless = Taskless.valueOf(s.path("taskless").asText("include").toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": taskless must be include, exclude or only, not "
                        + s.path("taskless").asText());
            }
            long batchWaitMs = s.path("batch_wait_ms").asLong(-1);
            if (s.has("batch_wait_ms") && (batchWaitMs < 0 || !topic || kind == Kind.POLICY_GRADIENT)) {
                throw new IllegalArgumentException(where + ": batch_wait_ms (>= 0) is for a supervised stage on a topic"
                        + " (a policy-gradient group trains whole)");
            }
            if (s.has("off_policy") && kind != Kind.POLICY_GRADIENT) {
                throw new IllegalArgumentException(where + ": off_policy corrects a policy_gradient stage");
            }
            OffPolicyCorrection offPolicy = OffPolicyCorrection.parse(s.path("off_policy"), where);
            if (s.has("advantage_shaping") && kind != Kind.POLICY_GRADIENT) {
                throw new IllegalArgumentException(
                        where + ": advantage_shaping shapes a policy_gradient stage's" + " advantages");
            }
            stages.add(new Stage(
                    name,
                    kind,
                    List.copyOf(sources),
                    steps,
                    until,
                    maxTrajectories,
                    s.path("batch").asInt(8),
                    s.path("learning_rate").asDouble(defaultLearningRate),
                    List.copyOf(balance),
                    versionEvery,
                    minReward,
                    updates,
                    schedule,
                    taskless,
                    TrainingMethod.parse(s, where),
                    batchWaitMs,
                    offPolicy,
                    AdvantageShaping.parse(s.path("advantage_shaping"), where)));
        }
        requireOneAdapterShape(file.toString(), stages);
        return new Curriculum(List.copyOf(stages));
    }

    /**
     * LoRA stages in a row train the same adapters on, so they must agree on the adapters' shape (a full stage between
     * them merges the first adapters into the weights and ends them).
     */
    private static void requireOneAdapterShape(String file, List<Stage> stages) {
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
     * A replay source's range: {@code {source, agent, task_prefix, family, from, to, partition, from_offset, to_offset,
     * min_reward, max_reward, revisions}}; {@code revisions: all} is refused (a re-scored trajectory would be trained
     * twice in one replay).
     */
    private static ScoredRange replay(JsonNode r, String where) {
        if (!r.isObject()) {
            throw new IllegalArgumentException(
                    where + ": replay is an object naming the range (from, to, source, ...)");
        }
        try {
            if (ScoredRange.Revisions.parse(r.path("revisions").asText(null)) == ScoredRange.Revisions.ALL) {
                throw new IllegalArgumentException("revisions: all would train a re-scored trajectory twice in one"
                        + " replay; replay its first scores (first, the default) or its re-scores (revised)");
            }
            return new ScoredRange(
                    ScoredRange.time(r.path("from").asText(null), Long.MIN_VALUE),
                    ScoredRange.time(r.path("to").asText(null), Long.MAX_VALUE),
                    r.path("partition").asInt(-1),
                    r.path("from_offset").asLong(0),
                    r.path("to_offset").asLong(Long.MAX_VALUE),
                    r.path("source").asText(null),
                    r.path("agent").asText(null),
                    r.path("task_prefix").asText(null),
                    r.path("family").asText(null),
                    r.path("min_reward").asDouble(Double.NaN),
                    r.path("max_reward").asDouble(Double.NaN),
                    ScoredRange.Revisions.parse(r.path("revisions").asText(null)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": replay: " + e.getMessage(), e);
        }
    }

    private static LearningRateSchedule schedule(JsonNode node, String where) {
        if (node.isMissingNode() || node.isNull()) {
            return LearningRateSchedule.CONSTANT;
        }
        LearningRateSchedule.Kind kind;
        try {
            kind = LearningRateSchedule.Kind.valueOf(
                    node.path("kind").asText("").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": lr_schedule.kind must be constant, cosine or linear");
        }
        try {
            return new LearningRateSchedule(
                    kind,
                    node.path("warmup_steps").asLong(0),
                    node.path("min_ratio").asDouble(0.1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": lr_schedule: " + e.getMessage());
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
                                    s.advantageShaping()));
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
