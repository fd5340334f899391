package dev.katmesh.reward.score;

/**
 * The weights of the reward's components (katmesh.reward.weight.*).
 *
 * @param tests      weight of the pass fraction of the task's test suites (or of the agent's own test runs)
 * @param similarity weight of the best similarity to a reference solution
 * @param format     weight of the format penalty (applied negatively)
 * @param feedback   weight of a deployed user's explicit feedback in [-1, 1]
 */
public record RewardWeights(double tests, double similarity, double format, double feedback) {
    public static RewardWeights defaults() {
        return new RewardWeights(1.0, 0.2, 0.5, 0.5);
    }
}
