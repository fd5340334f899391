package dev.katmesh.learner;

import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.training.AdvantageEstimator;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.LossAggregation;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import dev.katmesh.training.TreePruning;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.jboss.logging.Logger;

/**
 * A training run across the stages of a curriculum: the model and its optimiser, the step and version counters,
 * the stage running now and its trainer. Stages ({@link FileStage}, {@link TopicStage}) hand it batches; it steps,
 * records the step's figures, and publishes a version every so many steps or when a stage ends.
 */
final class TrainingRun {

    private static final Logger LOG = Logger.getLogger(TrainingRun.class);

    /** Where a version's offsets come from and what committing them means: the scored topic's consumer, or nothing. */
    interface Positions {
        Map<String, Long> forCheckpoint();

        void committed(Map<String, Long> positions);
    }

    final DecoderModel model;
    final LearnerMetrics metrics;
    final LearnerProgress progress;
    final Lineage lineage;
    private final List<DecoderModel> replicas;
    private final DecoderModel reference;
    private final Path tokenizerDir;
    private final Trainables trainables;
    private final LearnerSettings settings;
    private final VersionPublisher publisher;
    private final VersionEvaluation evaluation;
    private final StageBranch branch;
    private final ArrayDeque<Double> recentRewards = new ArrayDeque<>();
    private Positions positions;
    private CheckpointStore.State last;
    private long step;
    private int stepsSinceVersion;
    Curriculum.Stage stage;
    long stageStep;
    private Trainer trainer;
    /** Samples of versions before this one are not trained in this stage: those before it started from another. */
    private long floorVersion;

    TrainingRun(
            List<DecoderModel> replicas,
            DecoderModel reference,
            Path tokenizerDir,
            Checkpoints.OptimizerState restore,
            LearnerSettings settings,
            LearnerMetrics metrics,
            LearnerProgress progress,
            Lineage lineage,
            VersionPublisher publisher,
            VersionEvaluation evaluation,
            StageBranch branch,
            CheckpointStore.State from) {
        this.model = replicas.get(0);
        this.replicas = replicas;
        this.reference = reference;
        this.tokenizerDir = tokenizerDir;
        this.settings = settings;
        this.metrics = metrics;
        this.progress = progress;
        this.lineage = lineage;
        this.publisher = publisher;
        this.evaluation = evaluation;
        this.branch = branch;
        this.last = from;
        this.step = from.step();
        this.trainables = new Trainables(replicas, settings.learningRate(), restore, from.baseVersion());
    }

    long version() {
        return last.version();
    }

    CheckpointStore.State published() {
        return last;
    }

    void positions(Positions p) {
        positions = p;
    }

    /** The oldest policy version whose samples this stage trains (0 but for a stage started from another's). */
    long floorVersion() {
        return floorVersion;
    }

    /**
     * Starts {@code s} at its step {@code fromStep}, with a trainer for its objective and rate. A stage that starts
     * from an earlier one ({@link Curriculum.Stage#fromStage}) first takes that stage's last weights with a fresh
     * optimiser, and publishes them as its own first version, so that inference serves them and the samples it trains
     * come from them (older ones are dropped as stale).
     */
    void begin(Curriculum.Stage s, long fromStep) throws Exception {
        stage = s;
        stageStep = fromStep;
        boolean branching = s.fromStage() != null && fromStep == 0;
        if (branching) {
            branch.startFrom(s, replicas);
            trainables.freshOptimizer(); // the arm starts as the stage it branches from did not end
        }
        trainables.trainBy(s.method(), last.version());
        boolean rl = s.kind() == Curriculum.Kind.POLICY_GRADIENT;
        trainer = new Trainer(
                        replicas,
                        trainables.optimizer(),
                        Curriculum.objective(
                                        s,
                                        settings.epsLow(),
                                        settings.epsHigh(),
                                        settings.klBeta(),
                                        LossAggregation.valueOf(
                                                settings.lossAggregation().toUpperCase(Locale.ROOT)))
                                .withTemperature(rl ? settings.samplingTemperature() : 1.0),
                        AdvantageEstimator.valueOf(settings.advantage().toUpperCase(Locale.ROOT)),
                        reference,
                        s.learningRate() / settings.learningRate())
                .advantageShaping(s.advantageShaping())
                .maxTreeTokens(settings.maxTreeTokens())
                .maxSharedTreeTokens(settings.maxSharedTreeTokens());
        recentRewards.clear();
        progress.stage(s.name(), s.kind().name().toLowerCase(Locale.ROOT), fromStep, s.steps());
        LOG.infof("stage %s (%s) from its step %d", s.name(), s.kind(), fromStep);
        if (branching) {
            publish(false, false); // its weights are an evaluated version's
        } else if (publisher.announceRule(last, s.rolloutSupervision())) {
            LOG.infof("version %d announced again with stage %s's rollout supervision", last.version(), s.name());
        }
        floorVersion = s.fromStage() != null ? branch.first(s.name()).orElse(0) : 0;
    }

    /** The stage has taken its steps, or met its {@code until} (mean reward of the last 5 RL steps). */
    boolean stageDone() {
        return endedBy(0) != null;
    }

    /**
     * What ends the stage now, having read {@code read} trajectories since it (re)started: "steps", "until",
     * "budget" (its {@code max_trajectories}), or null while it goes on.
     */
    String endedBy(long read) {
        if (stageStep >= stage.steps()) {
            return "steps";
        }
        Curriculum.Until until = stage.until();
        if (until != null
                && until.metric().equals("reward_mean")
                && recentRewards.size() >= 5
                && recentRewards.stream()
                                .mapToDouble(Double::doubleValue)
                                .average()
                                .orElse(0)
                        >= until.atLeast()) {
            return "until";
        }
        return read >= stage.maxTrajectories() ? "budget" : null;
    }

    /** One optimiser step (GRPO's μ updates) on {@code batch} (groups of samples with their rewards) of {@code n} trajectories. */
    void step(List<List<TrainingSample>> batch, List<double[]> rewards, int n) {
        step(batch, rewards, n, s -> false);
    }

    /**
     * As {@link #step(List, List, int)}, each tree of the batch first pruned to the stage's tree budget, where it has
     * one; {@code openEnd} says which samples end on a turn nothing acted on ({@link TreePruning}).
     */
    void step(List<List<TrainingSample>> batch, List<double[]> rewards, int n, Predicate<TrainingSample> openEnd) {
        long t0 = System.nanoTime();
        TreePruning.Counts pruned = TreePruning.Counts.NONE;
        if (stage.treeBudget() > 0) {
            List<List<TrainingSample>> kept = new ArrayList<>();
            for (List<TrainingSample> group : batch) {
                TreePruning.Pruned p = TreePruning.prune(group, openEnd, stage.treeBudget());
                kept.add(p.samples());
                pruned = pruned.plus(p.counts());
            }
            batch = kept;
        }
        long rows = batch.stream().mapToLong(TreePruning::rows).sum();
        double lrFactor = stage.schedule().factor(stageStep, stage.steps());
        Trainer.StepResult result = trainer.step(batch, rewards, lrFactor, stage.updatesPerBatch());
        boolean rl = stage.kind() == Curriculum.Kind.POLICY_GRADIENT;
        double mean = rewards.stream().flatMapToDouble(Arrays::stream).average().orElse(Double.NaN);
        step++;
        stepsSinceVersion++;
        metrics.learningRate = stage.learningRate() * lrFactor;
        metrics.steps = step;
        metrics.loss = result.loss();
        metrics.advantageAbs = result.meanAdvantageAbs();
        if (rl) {
            metrics.clippedFraction = result.clippedFraction();
            metrics.mismatch = result.mismatch();
            progress.mismatch(stage.offPolicy().toString(), result.mismatch());
            metrics.rewardMean = mean;
            recentRewards.add(mean);
            if (recentRewards.size() > 5) {
                recentRewards.poll();
            }
        }
        metrics.trained(n, batch.size(), result.tokens());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        progress.stepped(step, stageStep + 1, result.loss(), rl ? mean : Double.NaN, n, result.tokens(), ms);
        progress.trees(stage.name(), ms, rows, result.tokens(), pruned);
        metrics.trees(stage.name(), rows, pruned);
        if (pruned.turnsPruned() > 0 || pruned.treesStillOver() > 0) {
            LOG.debugf("step %d: trees pruned to %d tokens: %s", step, stage.treeBudget(), pruned);
        }
        LOG.debugf(
                "step %d (%s %d): loss %.4f over %d tokens of %d trajectories, clipped fraction %.3f, reward mean %.3f",
                step, stage.name(), stageStep, result.loss(), result.tokens(), n, result.clippedFraction(), mean);
        stageStep++;
    }

    /** A consumed record not trained: counted by reason, and named in the next version's ledger entry when it has an id. */
    void dropped(DropReason reason, String id) {
        metrics.dropped(reason, 1);
        progress.dropped(reason.tag(), 1);
        if (id != null) {
            lineage.dropped(reason, id);
        }
    }

    /** A version when the stage's (or the learner's) interval of steps has passed. */
    void maybePublish() throws Exception {
        if (stepsSinceVersion >= (stage.versionEvery() > 0 ? stage.versionEvery() : settings.versionEvery())) {
            publish(false, true);
        }
    }

    /** A version when steps were taken since the last: at a stage's end ({@code why}: see {@link #endedBy}). */
    void endStage(String why) throws Exception {
        if (stepsSinceVersion > 0) {
            publish(true, true);
        }
        branch.stageEnded(stage.name());
        // After its last version: a stage that progress shows ended has its versions (and ledger entries) published.
        if (why != null) {
            progress.stageEnded(stage.name(), stageStep, why);
            LOG.infof("stage %s ended by its %s after %d steps", stage.name(), why, stageStep);
        }
    }

    private void publish(boolean stageEnd, boolean evaluate) throws Exception {
        Map<String, Long> offsets = positions == null ? last.offsets() : positions.forCheckpoint();
        TrainingLedger.Entry entry = lineage.close(last.version() + 1, step, stage.name());
        last = publisher.publish(
                entry,
                stageStep,
                model,
                tokenizerDir,
                trainables.optimizer(),
                offsets,
                Map.of("loss", metrics.loss, "reward_mean", metrics.rewardMean),
                trainables.baseVersion(),
                stage.rolloutSupervision());
        if (positions != null) {
            positions.committed(offsets);
        }
        stepsSinceVersion = 0;
        LOG.infof(
                "policy version %d published (step %d, stage %s step %d, sha256 %s)",
                last.version(), step, stage.name(), stageStep, last.sha256());
        if (evaluate) {
            evaluation.record(last, stageEnd);
        }
    }
}
