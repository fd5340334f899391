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
 * @param similarityForm     which closeness to the references {@code similarity} weighs (both are on every record)
 */
public record RewardWeights(
        double tests,
        double similarity,
        double format,
        double unverifiedTests,
        double unverifiedFeedback,
        SimilarityForm similarityForm) {

    /** The two forms of closeness to a ground truth ({@link dev.katmesh.tasks.Similarity}). */
    public enum SimilarityForm {
        /** 1 − edit distance / the longer text's length: the component reference_similarity. */
        ABSOLUTE,
        /** 1 − the distance left relative to the start's (KAT-Coder's relative discrepancy): reference_progress. */
        RELATIVE
    }

    public static RewardWeights defaults() {
        return new RewardWeights(1.0, 0.2, 0.5, 0.0, 0.0, SimilarityForm.ABSOLUTE);
    }
}
