package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.katmesh.proto.wire.ScoredRange;
import dev.katmesh.training.Curriculum.Kind;
import dev.katmesh.training.Curriculum.Source;
import dev.katmesh.training.Curriculum.Stage;
import dev.katmesh.training.Curriculum.Taskless;
import dev.katmesh.training.Curriculum.Until;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A curriculum's YAML file read into {@link Curriculum} (the format is documented there): every key of every stage
 * checked against the stage's objective and sources, each error naming the file and the stage.
 */
final class CurriculumFile {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private CurriculumFile() {}

    static Curriculum load(Path file, double defaultLearningRate) {
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
            String fromStage = s.hasNonNull("from_stage") ? s.get("from_stage").asText() : null;
            if (fromStage != null && stages.stream().noneMatch(x -> x.name().equals(fromStage))) {
                throw new IllegalArgumentException(where + ": from_stage '" + fromStage
                        + "' is not an earlier stage of this curriculum (a stage starts from the last version of one"
                        + " that ran before it)");
            }
            if (stages.stream().anyMatch(x -> x.name().equals(name))) {
                throw new IllegalArgumentException(where + ": two stages are named '" + name + "'");
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
                    AdvantageShaping.parse(s.path("advantage_shaping"), where),
                    fromStage,
                    SupervisionRule.parse(s.path("rollout_supervision"), name, kind, where),
                    treeBudget(s, kind, topic || replay, where)));
        }
        Curriculum.requireOneAdapterShape(file.toString(), stages);
        return new Curriculum(List.copyOf(stages));
    }

    /**
     * {@code tree_budget: N}, tokens a tree of a batch keeps ({@link TreePruning}): on a supervised stage over the scored
     * log, where captured session trees are. A policy-gradient stage's rollout trees are refused: each leaf is an
     * episode run to its end with its own reward, so none has a turn the rule may drop.
     */
    private static int treeBudget(JsonNode s, Curriculum.Kind kind, boolean scoredLog, String where) {
        if (!s.has("tree_budget")) {
            return 0;
        }
        JsonNode b = s.get("tree_budget");
        if (!b.canConvertToInt() || !b.isIntegralNumber() || b.asInt() <= 0) {
            throw new IllegalArgumentException(where + ": tree_budget is a number of tokens (> 0), not " + b);
        }
        if (!scoredLog || kind == Curriculum.Kind.POLICY_GRADIENT || kind == Curriculum.Kind.LM) {
            throw new IllegalArgumentException(where + ": tree_budget prunes the captured session trees of an sft or"
                    + " error_masked_sft stage on the scored log (a topic or a replay); a rollout tree's leaves are"
                    + " each an episode run to its end, with no turn the rule may drop");
        }
        return b.asInt();
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
}
