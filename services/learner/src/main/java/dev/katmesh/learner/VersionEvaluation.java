package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.tasks.HeldOutEvaluation;
import java.util.Map;
import java.util.TreeMap;
import org.jboss.logging.Logger;

/**
 * A published version's point of the progress history: the last step's figures, and the validation and held-out
 * pass rates by family when an evaluation is due (every task not in the validation split counts as held out).
 */
final class VersionEvaluation {

    private static final Logger LOG = Logger.getLogger(VersionEvaluation.class);

    private final HeldOutEvaluator evaluator;
    private final DecoderModel model;
    private final PolicyTokenizer tokenizer;
    private final ChatTemplate template;
    private final LearnerProgress progress;
    private final LearnerMetrics metrics;

    /** @param evaluator null: no evaluation tasks */
    VersionEvaluation(
            HeldOutEvaluator evaluator,
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

    /** Records {@code state}'s point in the progress history, evaluating it first when due. */
    void record(CheckpointStore.State state, boolean stageEnd) throws Exception {
        Map<String, VersionPoint.FamilyScore> heldout = new TreeMap<>();
        Map<String, VersionPoint.FamilyScore> validation = new TreeMap<>();
        long evalMs = 0;
        boolean evaluated = evaluator != null && evaluator.due(state.version(), stageEnd);
        if (evaluated) {
            progress.evaluating("policy version " + state.version() + " on " + evaluator.size() + " evaluation tasks");
            try {
                HeldOutEvaluation.Result result = evaluator.evaluate(model, tokenizer, template, state.version());
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
                metrics.loss,
                metrics.rewardMean,
                rate,
                passed,
                total,
                progress.trajectoriesTrained(),
                state.createdAtMs(),
                evalMs,
                heldout,
                validation));
    }
}
