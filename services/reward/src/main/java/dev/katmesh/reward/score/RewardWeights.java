package dev.katmesh.reward.score;

/**
 * The weights of the reward's components (katmesh.reward.weight.*).
 *
 * @param tests              weight of the pass fraction of the task's judged cases
 * @param similarity         weight of the best similarity to a reference solution
 * @param format             weight of the format penalty (applied negatively)
 * @param unverifiedTests    weight of a taskless trajectory's own reported test results: the agent's claim, nothing
 *                           the reward verified (0 by default: kept on the record, not rewarded)
 * @param unverifiedFeedback weight of feedback in [-1, 1] carried by the trajectory itself: likewise its producer's claim
 */
public record RewardWeights(
        double tests, double similarity, double format, double unverifiedTests, double unverifiedFeedback) {
    public static RewardWeights defaults() {
        return new RewardWeights(1.0, 0.2, 0.5, 0.0, 0.0);
    }
}
