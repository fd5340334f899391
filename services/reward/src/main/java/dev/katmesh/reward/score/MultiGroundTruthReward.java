package dev.katmesh.reward.score;

import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.GroundTruths;
import dev.katmesh.tasks.TaskTests;
import dev.katmesh.tasks.TurnAnnotator;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * The multi-ground-truth reward (docs/algorithms.md). For a trajectory on a known task:
 *
 * <pre>
 *   r = w_tests · pass_fraction(the task's judged cases on the outcome: answers from the sandbox, verdicts outside it)
 *     + w_sim   · max over references of similarity(outcome, reference)         (absolute, the default), or
 *       w_sim   · max(0, 1 − min over references of discrepancy(outcome, reference))   (relative: similarity-form)
 *     − w_fmt   · format_penalty            (1 if nothing submitted, +0.25 per malformed call, at most 1)
 * </pre>
 *
 * A trajectory without a task is marked taskless: its own reported test results and feedback are kept as
 * {@code unverified_tests} and {@code unverified_feedback}, claims of its producer with their own weights
 * (0 by default), beside the format penalty (no submission term). Every component is kept on the record
 * with its weight; a curriculum stage may leave taskless records out ({@code taskless: exclude}).
 */
public final class MultiGroundTruthReward {

    public static final String SCORER = "multi-ground-truth/v1";

    private final TaskTests tests;
    private final RewardWeights weights;

    public MultiGroundTruthReward(TaskTests tests, RewardWeights weights) {
        this.tests = tests;
        this.weights = weights;
    }

    public ScoredTrajectory score(Trajectory t, Task task, int ignoredAgentFields, long nowMs)
            throws IOException, InterruptedException {
        TurnAnnotator.Annotation a = TurnAnnotator.annotate(t);
        ScoredTrajectory.Builder s = ScoredTrajectory.newBuilder()
                .setTrajectory(t)
                .setScorer(SCORER)
                .setScoredAtMs(nowMs)
                .setIgnoredAgentFields(ignoredAgentFields)
                .addAllTurns(a.turns())
                .addAllErrorMask(a.errorMask());
        boolean submitted = t.hasOutcome()
                && t.getOutcome().getSubmitted()
                && !t.getOutcome().getContent().isEmpty();
        double penalty = Math.min(1.0, (task != null && !submitted ? 1.0 : 0.0) + 0.25 * a.malformedCalls());
        double reward = 0;
        if (task != null) {
            s.setTaskFamily(task.getTagsOrDefault("template", ""));
            String content = t.getOutcome().getContent();
            String path = t.getOutcome().getPath().isEmpty()
                    ? task.getTagsOrDefault("solution_path", "solution.py")
                    : t.getOutcome().getPath();
            double pass = 0;
            StringBuilder detail = new StringBuilder();
            if (submitted && task.getTestSuitesCount() > 0) {
                List<TaskTests.SuiteResult> results = tests.run(task, path, content);
                double sum = 0;
                for (TaskTests.SuiteResult r : results) {
                    sum += r.passFraction();
                    detail.append(r.name())
                            .append(": ")
                            .append(r.passedCases())
                            .append('/')
                            .append(r.totalCases())
                            .append(r.judged() ? " judged" : "")
                            .append(r.detail().isEmpty() ? "" : " (" + r.detail() + ")")
                            .append("; ");
                }
                pass = results.isEmpty() ? 0 : sum / results.size();
            }
            s.addComponents(component(
                    "tests",
                    pass,
                    weights.tests(),
                    submitted ? detail.toString().trim() : "nothing submitted"));
            GroundTruths.Standing standing = submitted
                    ? GroundTruths.of(task).standing(content)
                    : new GroundTruths.Standing(0, "none", 1, "none");
            // Resemblance earns credit only for code that passes some case: a policy must not farm it with a
            // reference's shape around a broken core, or with a copy that exits before it is judged.
            boolean earns = pass > 0;
            boolean relative = weights.similarityForm() == RewardWeights.SimilarityForm.RELATIVE;
            String noCredit = earns ? "" : " (no credit: no case passed)";
            s.addComponents(component(
                    "reference_similarity",
                    standing.similarity(),
                    earns && !relative ? weights.similarity() : 0,
                    "closest reference: " + standing.similarId() + noCredit));
            s.addComponents(component(
                    "reference_progress",
                    standing.progress(),
                    earns && relative ? weights.similarity() : 0,
                    String.format(
                                    Locale.ROOT,
                                    "nearest reference: %s, relative discrepancy %.3f",
                                    standing.nearestId(),
                                    standing.discrepancy())
                            + noCredit));
            double closeness = relative ? standing.progress() : standing.similarity();
            reward += weights.tests() * pass + (earns ? weights.similarity() * closeness : 0);
        } else {
            s.setTaskless(true);
            // What the agent says of itself: kept as unverified components, rewarded only as far as an operator weights
            // them.
            if (t.hasOutcome() && t.getOutcome().getTestResultsCount() > 0) {
                long passed = t.getOutcome().getTestResultsList().stream()
                        .filter(TestResult::getPassed)
                        .count();
                double own = (double) passed / t.getOutcome().getTestResultsCount();
                s.addComponents(component(
                        "unverified_tests",
                        own,
                        weights.unverifiedTests(),
                        passed + " of " + t.getOutcome().getTestResultsCount() + " passed, as reported by the agent"));
                reward += weights.unverifiedTests() * own;
            }
            if (t.hasOutcome() && t.getOutcome().hasFeedback()) {
                double f = t.getOutcome().getFeedback();
                s.addComponents(component(
                        "unverified_feedback", f, weights.unverifiedFeedback(), "feedback carried by the trajectory"));
                reward += weights.unverifiedFeedback() * f;
            }
        }
        s.addComponents(component(
                "format_penalty",
                penalty,
                -weights.format(),
                a.malformedCalls() + " malformed call(s)" + (task != null && !submitted ? ", no submission" : "")));
        reward -= weights.format() * penalty;
        return s.setReward(reward).build();
    }

    private static RewardComponent component(String name, double value, double weight, String detail) {
        return RewardComponent.newBuilder()
                .setName(name)
                .setValue(value)
                .setWeight(weight)
                .setDetail(detail)
                .build();
    }
}
