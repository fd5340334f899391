package dev.katmesh.training;

/**
 * How far the behaviour policy μ that sampled a step's tokens is from the learner π_old at the step's start, over
 * the trained tokens whose behaviour log-prob is known. Sums, so that trees and steps add up; the KL figures are
 * estimates of KL(μ ‖ π_old) from tokens sampled from μ (docs/algorithms.md, "Off-policy correction"):
 *
 * <pre>
 *   δ_t = log π_old(y_t) - log μ(y_t)
 *   k1 = Σ -δ_t            (unbiased, either sign per token)
 *   k3 = Σ e^δ_t - 1 - δ_t  (unbiased and never negative: Schulman's k3)
 * </pre>
 *
 * @param tokens          trained tokens with a known behaviour log-prob
 * @param sequences       samples with at least one such token
 * @param k1              Σ -δ_t
 * @param k3              Σ (e^δ_t - 1 - δ_t)
 * @param truncated       tokens whose ratio a token-level correction truncated
 * @param maskedSequences sequences a sequence-level correction masked out
 * @param maskedTokens    the trained tokens of those sequences
 */
public record PolicyMismatch(
        int tokens, int sequences, double k1, double k3, int truncated, int maskedSequences, int maskedTokens) {

    public static final PolicyMismatch EMPTY = new PolicyMismatch(0, 0, 0, 0, 0, 0, 0);

    public PolicyMismatch plus(PolicyMismatch o) {
        return new PolicyMismatch(
                tokens + o.tokens,
                sequences + o.sequences,
                k1 + o.k1,
                k3 + o.k3,
                truncated + o.truncated,
                maskedSequences + o.maskedSequences,
                maskedTokens + o.maskedTokens);
    }

    /** KL(μ ‖ π_old) per token (k3); NaN without a known behaviour log-prob. */
    public double tokenKl() {
        return tokens == 0 ? Double.NaN : k3 / tokens;
    }

    /** KL(μ ‖ π_old) per sequence: the sum over its tokens (k3), averaged over sequences. */
    public double sequenceKl() {
        return sequences == 0 ? Double.NaN : k3 / sequences;
    }

    /** The k1 estimate per token (mean log μ - log π_old): its sign says which policy the tokens favour. */
    public double tokenK1() {
        return tokens == 0 ? Double.NaN : k1 / tokens;
    }

    public double truncatedFraction() {
        return tokens == 0 ? Double.NaN : (double) truncated / tokens;
    }

    public double maskedFraction() {
        return sequences == 0 ? Double.NaN : (double) maskedSequences / sequences;
    }
}
