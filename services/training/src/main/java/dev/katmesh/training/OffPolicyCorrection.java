package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/**
 * How the policy gradient corrects for samples drawn from another policy than the learner's: an older version
 * (asynchronous training) or inference's own numerics. Formulas and papers in docs/algorithms.md ("Off-policy
 * correction").
 *
 * <p>Three policies take part: μ, the behaviour policy whose log-probs the trajectory carries; π_old, the learner at
 * the start of the step (its log-probs computed in the step's first forward pass, without gradient); π_θ, the learner
 * being optimised. With {@link Kind#NONE} the clipped ratio is π_θ/μ (the behaviour policy is PPO's anchor, as
 * before this option existed). With a correction the ratio is π_θ/π_old and a weight w (detached) multiplies each
 * token's loss:
 *
 * <pre>
 *   TOKEN_TIS:      w_t = min(ρ_t, cap),               ρ_t = π_old(y_t) / μ(y_t)
 *   SEQUENCE_MIS:   w_t = ρ(y) · 1[low ≤ ρ(y) ≤ high],  ρ(y) = Π_t ρ_t over the sequence's trained tokens
 *   GEOMETRIC_MIS:  as SEQUENCE_MIS with ρ(y) = (Π_t ρ_t)^(1/T), the per-token geometric mean (then w_t = 1)
 * </pre>
 *
 * @param kind the correction
 * @param cap  TOKEN_TIS's truncation C (≥ 1)
 * @param low  the masks' lower bound (0 < low ≤ 1)
 * @param high the masks' upper bound (≥ 1)
 */
public record OffPolicyCorrection(Kind kind, double cap, double low, double high) {

    public enum Kind {
        /** No correction: PPO's ratio is taken against the behaviour log-probs. */
        NONE,
        /** Truncated importance sampling per token (Yao et al., 2025). */
        TOKEN_TIS,
        /** Masked importance sampling per sequence (Liu, Li et al., 2025; IcePop, Ling team, 2025). */
        SEQUENCE_MIS,
        /** Masked on the geometric mean of the sequence's ratios, a bound that does not grow with length. */
        GEOMETRIC_MIS
    }

    public static final OffPolicyCorrection NONE = new OffPolicyCorrection(Kind.NONE, 2, 0.5, 2);

    public OffPolicyCorrection {
        if (!(cap >= 1) || Double.isInfinite(cap)) {
            throw new IllegalArgumentException("the truncation cap must be a finite number >= 1, got " + cap);
        }
        if (!(low > 0 && low <= 1) || !(high >= 1) || Double.isInfinite(high)) {
            throw new IllegalArgumentException(
                    "the mask's bounds must satisfy 0 < low <= 1 <= high, got [" + low + ", " + high + "]");
        }
    }

    public static OffPolicyCorrection tokenTis(double cap) {
        return new OffPolicyCorrection(Kind.TOKEN_TIS, cap, 0.5, 2);
    }

    public static OffPolicyCorrection sequenceMis(double low, double high) {
        return new OffPolicyCorrection(Kind.SEQUENCE_MIS, 2, low, high);
    }

    public static OffPolicyCorrection geometricMis(double low, double high) {
        return new OffPolicyCorrection(Kind.GEOMETRIC_MIS, 2, low, high);
    }

    /** Whether PPO's anchor is the learner's own π_old (any correction) rather than the behaviour policy. */
    public boolean decoupled() {
        return kind != Kind.NONE;
    }

    /** Each trained token's weight w_t, and the mismatch they were computed from. */
    public record Weights(float[] weights, PolicyMismatch mismatch) {}

    /**
     * The weights of a tree's trained tokens (occurrences), one per occurrence.
     *
     * @param learner   log π_old of each occurrence's token
     * @param behaviour log μ of each (NaN where unknown: such a token weighs 1 and is left out of the mismatch)
     * @param sampleOf  the sample each occurrence belongs to, in [0, samples)
     */
    public Weights weigh(float[] learner, float[] behaviour, int[] sampleOf, int samples) {
        int k = learner.length;
        double[] logRatio = new double[samples];
        int[] known = new int[samples];
        int[] trained = new int[samples];
        float[] w = new float[k];
        int tokens = 0;
        double k1 = 0;
        double k3 = 0;
        int truncated = 0;
        for (int i = 0; i < k; i++) {
            trained[sampleOf[i]]++;
            w[i] = 1;
            if (Float.isNaN(behaviour[i])) {
                continue;
            }
            double delta = (double) learner[i] - behaviour[i];
            tokens++;
            k1 -= delta;
            k3 += Math.expm1(delta) - delta;
            logRatio[sampleOf[i]] += delta;
            known[sampleOf[i]]++;
            if (kind == Kind.TOKEN_TIS) {
                double rho = Math.exp(delta);
                truncated += rho > cap ? 1 : 0;
                w[i] = (float) Math.min(rho, cap);
            }
        }
        int sequences = 0;
        int maskedSequences = 0;
        int maskedTokens = 0;
        float[] sequenceWeight = new float[samples];
        for (int s = 0; s < samples; s++) {
            sequences += known[s] > 0 ? 1 : 0;
            // Compared in log space: a long sequence's product of ratios overflows a double long before it is masked.
            double log = kind == Kind.GEOMETRIC_MIS && known[s] > 0 ? logRatio[s] / known[s] : logRatio[s];
            boolean masked = known[s] > 0 && (log < Math.log(low) || log > Math.log(high));
            maskedSequences += masked ? 1 : 0;
            maskedTokens += masked ? trained[s] : 0;
            sequenceWeight[s] = masked ? 0f : kind == Kind.SEQUENCE_MIS ? (float) Math.exp(log) : 1f;
        }
        if (kind == Kind.SEQUENCE_MIS || kind == Kind.GEOMETRIC_MIS) {
            for (int i = 0; i < k; i++) {
                w[i] = sequenceWeight[sampleOf[i]];
            }
        } else {
            maskedSequences = 0;
            maskedTokens = 0;
        }
        return new Weights(w, new PolicyMismatch(tokens, sequences, k1, k3, truncated, maskedSequences, maskedTokens));
    }

    /**
     * A stage's {@code off_policy} block: {@code {correction: token_tis, cap: 2}}, {@code {correction: sequence_mis,
     * low: 0.5, high: 2}}, {@code {correction: geometric_mis, low: 0.99, high: 1.01}} or absent (none). The mask's
     * lower bound defaults to 1/high.
     */
    public static OffPolicyCorrection parse(JsonNode node, String where) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return NONE;
        }
        Kind kind;
        try {
            kind = Kind.valueOf(node.path("correction").asText("none").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": off_policy.correction must be none, token_tis, sequence_mis"
                    + " or geometric_mis, not '" + node.path("correction").asText() + "'");
        }
        double high = node.path("high").asDouble(kind == Kind.GEOMETRIC_MIS ? 1.01 : 2);
        try {
            return new OffPolicyCorrection(
                    kind, node.path("cap").asDouble(2), node.path("low").asDouble(1 / high), high);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": off_policy: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return switch (kind) {
            case NONE -> "none";
            case TOKEN_TIS -> "token_tis(cap " + cap + ")";
            case SEQUENCE_MIS, GEOMETRIC_MIS -> kind.name().toLowerCase(Locale.ROOT) + "[" + low + ", " + high + "]";
        };
    }
}
