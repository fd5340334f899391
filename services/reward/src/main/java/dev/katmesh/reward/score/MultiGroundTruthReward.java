package dev.katmesh.reward.score;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.TaskTests;
import java.io.IOException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The multi-ground-truth reward (docs/algorithms.md). For a trajectory on a known task:
 *
 * <pre>
 *   r = w_tests · pass_fraction(task's suites run on the outcome, in the sandbox)
 *     + w_sim   · max over references of similarity(outcome, reference)
 *     − w_fmt   · format_penalty            (1 if nothing submitted, +0.25 per malformed call, at most 1)
 * </pre>
 *
 * For a deployed session without a task, only what applies: the agent's own test runs (pass fraction of
 * outcome.test_results), explicit feedback, the format penalty (no submission penalty); it is marked
 * taskless. Every component is kept on the record with its weight.
 */
public final class MultiGroundTruthReward {

    public static final String SCORER = "multi-ground-truth/v1";
    private static final Pattern RAN = Pattern.compile("Ran (\\d+) tests?");
    private static final Pattern FAILED = Pattern.compile("FAILED \\((?:failures=(\\d+))?(?:, )?(?:errors=(\\d+))?");

    private final TaskTests tests;
    private final RewardWeights weights;

    public MultiGroundTruthReward(TaskTests tests, RewardWeights weights) {
        this.tests = tests;
        this.weights = weights;
    }

    public ScoredTrajectory score(Trajectory t, Task task, int ignoredAgentFields, long nowMs) throws IOException, InterruptedException {
        TurnAnnotator.Annotation a = TurnAnnotator.annotate(t);
        ScoredTrajectory.Builder s = ScoredTrajectory.newBuilder().setTrajectory(t).setScorer(SCORER).setScoredAtMs(nowMs)
                .setIgnoredAgentFields(ignoredAgentFields).addAllTurns(a.turns()).addAllErrorMask(a.errorMask());
        boolean submitted = t.hasOutcome() && t.getOutcome().getSubmitted() && !t.getOutcome().getContent().isEmpty();
        double penalty = Math.min(1.0, (task != null && !submitted ? 1.0 : 0.0) + 0.25 * a.malformedCalls());
        double reward = 0;
        if (task != null) {
            String content = t.getOutcome().getContent();
            String path = t.getOutcome().getPath().isEmpty() ? task.getTagsOrDefault("solution_path", "solution.py") : t.getOutcome().getPath();
            double pass = 0;
            StringBuilder detail = new StringBuilder();
            if (submitted && task.getTestSuitesCount() > 0) {
                double sum = 0;
                for (TaskTests.SuiteResult r : tests.run(task, path, content)) {
                    double f = passFraction(r);
                    sum += f;
                    detail.append(r.name()).append(": ").append(String.format("%.2f", f)).append(" (").append(r.run().verdict().label()).append(") ");
                }
                pass = sum / task.getTestSuitesCount();
            }
            s.addComponents(component("tests", pass, weights.tests(), submitted ? detail.toString().trim() : "nothing submitted"));
            double best = 0;
            String bestId = "none";
            for (ReferenceSolution ref : task.getReferencesList()) {
                double sim = submitted ? Similarity.of(content, ref.getContent()) : 0;
                if (sim > best) {
                    best = sim;
                    bestId = ref.getId();
                }
            }
            s.addComponents(component("reference_similarity", best, weights.similarity(), "closest reference: " + bestId));
            reward += weights.tests() * pass + weights.similarity() * best;
        } else {
            s.setTaskless(true);
            if (t.hasOutcome() && t.getOutcome().getTestResultsCount() > 0) {
                long passed = t.getOutcome().getTestResultsList().stream().filter(TestResult::getPassed).count();
                double own = (double) passed / t.getOutcome().getTestResultsCount();
                s.addComponents(component("own_tests", own, weights.tests(), passed + " of " + t.getOutcome().getTestResultsCount() + " passed"));
                reward += weights.tests() * own;
            }
            if (t.hasOutcome() && t.getOutcome().hasFeedback()) {
                double f = t.getOutcome().getFeedback();
                s.addComponents(component("feedback", f, weights.feedback(), "explicit user feedback"));
                reward += weights.feedback() * f;
            }
        }
        s.addComponents(component("format_penalty", penalty, -weights.format(),
                a.malformedCalls() + " malformed call(s)" + (task != null && !submitted ? ", no submission" : "")));
        reward -= weights.format() * penalty;
        return s.setReward(reward).build();
    }

    /** Python unittest's case counts when present, else 1 or 0 by the suite's verdict. */
    static double passFraction(TaskTests.SuiteResult r) {
        String out = r.run().stdout() + r.run().stderr();
        Matcher ran = RAN.matcher(out);
        if (ran.find()) {
            int n = Integer.parseInt(ran.group(1));
            if (n == 0) {
                return 0;
            }
            int bad = 0;
            Matcher f = FAILED.matcher(out);
            if (f.find()) {
                bad = (f.group(1) == null ? 0 : Integer.parseInt(f.group(1))) + (f.group(2) == null ? 0 : Integer.parseInt(f.group(2)));
            }
            return Math.max(0, (double) (n - bad) / n);
        }
        return r.passed() ? 1 : 0;
    }

    private static RewardComponent component(String name, double value, double weight, String detail) {
        return RewardComponent.newBuilder().setName(name).setValue(value).setWeight(weight).setDetail(detail).build();
    }
}
