package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.tasks.HeldOutEvaluation;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * A published version's point of the progress history: the last step's figures, and the validation and held-out
 * pass rates by family when an evaluation is due (every task not in the validation split counts as held out).
 *
 * <p>DESIGN: an evaluation runs beside training, never in its thread. When one is due, the training thread copies
 * the weights ({@link DecoderModel#snapshot}: the figure belongs to exactly that version) and goes on training; the
 * evaluation thread evaluates the copy and frees it. Once it took up to two minutes of the training thread, and every
 * trajectory waiting for a step waited that long too (the agent-to-trainer latency's p99). Points reach the history
 * in version order: a point that needs no evaluation queues behind the evaluations before it. {@link #awaitAll} lets
 * the curriculum's end wait for the last one.
 */
final class VersionEvaluation implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(VersionEvaluation.class);

    /** What evaluates a version ({@link HeldOutEvaluator}; a test's own in {@code VersionEvaluationTest}). */
    interface Evaluator {
        boolean due(long version, boolean stageEnd);

        int size();

        HeldOutEvaluation.Result evaluate(
                DecoderModel model, PolicyTokenizer tokenizer, ChatTemplate template, long version) throws Exception;
    }

    private final Evaluator evaluator;
    private final DecoderModel model;
    private final PolicyTokenizer tokenizer;
    private final ChatTemplate template;
    private final LearnerProgress progress;
    private final LearnerMetrics metrics;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "katmesh-evaluation");
        t.setDaemon(true);
        return t;
    });

    /** @param evaluator null: no evaluation tasks */
    VersionEvaluation(
            Evaluator evaluator,
            DecoderModel model,
            PolicyTokenizer tokenizer,
            ChatTemplate template,
            LearnerProgress progress,
            LearnerMetrics metrics) {
        this.evaluator = evaluator;
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.progress = progress;
        this.metrics = metrics;
    }

    /**
     * Records {@code state}'s point in the progress history, evaluating it first when due; returns at once (the
     * training thread's only cost is the weights' copy when an evaluation is due).
     */
    void record(CheckpointStore.State state, boolean stageEnd) {
        Step step = new Step(metrics.loss, metrics.rewardMean, progress.trajectoriesTrained());
        boolean due = evaluator != null && evaluator.due(state.version(), stageEnd);
        DecoderModel copy = due ? model.snapshot() : null;
        thread.execute(() -> {
            try {
                record(state, step, copy);
            } catch (Exception e) {
                LOG.errorf(e, "evaluating policy version %d failed; its point has no pass rates", state.version());
                try {
                    record(state, step, null);
                } catch (Exception again) {
                    LOG.errorf(again, "recording policy version %d failed", state.version());
                }
            } finally {
                if (copy != null) {
                    copy.close();
                }
            }
        });
    }

    /** Waits until every version recorded so far is in the history (evaluated when due). */
    void awaitAll() throws InterruptedException, ExecutionException {
        thread.submit(() -> {}).get();
    }

    /** Stops the evaluation thread (interrupting an evaluation under way) and waits for it to let go of the model. */
    @Override
    public void close() {
        thread.shutdownNow();
        try {
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("the evaluation thread did not stop within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last step's figures when the version was published (training goes on while it is evaluated). */
    private record Step(double loss, double rewardMean, long trajectoriesTrained) {}

    private void record(CheckpointStore.State state, Step step, DecoderModel copy) throws Exception {
        Map<String, VersionPoint.FamilyScore> heldout = new TreeMap<>();
        Map<String, VersionPoint.FamilyScore> validation = new TreeMap<>();
        long evalMs = 0;
        boolean evaluated = copy != null;
        if (evaluated) {
            progress.evaluating("policy version " + state.version() + " on " + evaluator.size() + " evaluation tasks");
            try {
                HeldOutEvaluation.Result result = evaluator.evaluate(copy, tokenizer, template, state.version());
                evalMs = result.wallMs();
                for (var t : result.tasks()) {
                    (t.split().equals("validation") ? validation : heldout)
                            .merge(
                                    t.template().isEmpty() ? "untagged" : t.template(),
                                    new VersionPoint.FamilyScore(t.passed() ? 1 : 0, 1),
                                    (a, b) -> new VersionPoint.FamilyScore(
                                            a.passed() + b.passed(), a.total() + b.total()));
                }
            } finally {
                progress.evaluating(null);
            }
        }
        int passed = heldout.values().stream()
                .mapToInt(VersionPoint.FamilyScore::passed)
                .sum();
        int total = heldout.values().stream()
                .mapToInt(VersionPoint.FamilyScore::total)
                .sum();
        double rate = total == 0 ? Double.NaN : (double) passed / total;
        if (evaluated) {
            metrics.heldoutPassRate = rate;
            LOG.infof(
                    "policy version %d: held-out %d/%d, validation %d/%d, in %d ms",
                    state.version(),
                    passed,
                    total,
                    validation.values().stream()
                            .mapToInt(VersionPoint.FamilyScore::passed)
                            .sum(),
                    validation.values().stream()
                            .mapToInt(VersionPoint.FamilyScore::total)
                            .sum(),
                    evalMs);
        }
        progress.published(new VersionPoint(
                state.version(),
                state.stage(),
                state.step(),
                state.stageStep(),
                step.loss(),
                step.rewardMean(),
                rate,
                passed,
                total,
                step.trajectoriesTrained(),
                state.createdAtMs(),
                evalMs,
                heldout,
                validation));
    }
}
