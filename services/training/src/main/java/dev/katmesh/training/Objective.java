package dev.katmesh.training;

/**
 * What a training step optimises, per trainable token (formulas and sources in docs/algorithms.md).
 *
 * @param kind        the loss
 * @param epsLow      PPO clip range below 1 (ratio ≥ 1 - epsLow)
 * @param epsHigh     PPO clip range above 1; DAPO's clip-higher sets it above epsLow
 * @param klBeta      weight of the KL penalty to a frozen reference policy (0 = none)
 * @param aggregation how token losses are summed
 * @param temperature the temperature the behaviour policy sampled at: the policy gradient scores tokens
 *                    with log_softmax(logits / temperature), the distribution the behaviour log-probs
 *                    came from, so the importance ratio compares like with like (1 for SFT)
 * @param correction  how the policy gradient corrects for tokens sampled by another policy than the learner's
 *                    (an older version, inference's numerics); {@link OffPolicyCorrection#NONE} by default
 */
public record Objective(
        Kind kind,
        double epsLow,
        double epsHigh,
        double klBeta,
        LossAggregation aggregation,
        double temperature,
        OffPolicyCorrection correction) {

    public enum Kind {
        /** Next-token cross-entropy on the trainable tokens (mid-term LM: every token; SFT: assistant tokens). */
        SFT,
        /** Policy gradient with the ratio to the behaviour policy clipped as in PPO. */
        POLICY_GRADIENT
    }

    public Objective {
        if (epsLow < 0 || epsLow >= 1 || epsHigh < 0) {
            throw new IllegalArgumentException("clip ranges must satisfy 0 <= epsLow < 1 and epsHigh >= 0");
        }
        if (klBeta < 0) {
            throw new IllegalArgumentException("klBeta must be >= 0");
        }
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0");
        }
        if (correction == null) {
            throw new IllegalArgumentException("correction must be given (OffPolicyCorrection.NONE for none)");
        }
    }

    /** Without off-policy correction. */
    public Objective(
            Kind kind, double epsLow, double epsHigh, double klBeta, LossAggregation aggregation, double temperature) {
        this(kind, epsLow, epsHigh, klBeta, aggregation, temperature, OffPolicyCorrection.NONE);
    }

    /** Sampled at temperature 1. */
    public Objective(Kind kind, double epsLow, double epsHigh, double klBeta, LossAggregation aggregation) {
        this(kind, epsLow, epsHigh, klBeta, aggregation, 1.0);
    }

    public Objective withTemperature(double t) {
        return new Objective(kind, epsLow, epsHigh, klBeta, aggregation, t, correction);
    }

    public Objective withCorrection(OffPolicyCorrection c) {
        return new Objective(kind, epsLow, epsHigh, klBeta, aggregation, temperature, c);
    }

    public static Objective sft() {
        return new Objective(Kind.SFT, 0.2, 0.2, 0, LossAggregation.TOKEN_MEAN);
    }

    /** Clipped policy gradient with DAPO's defaults: clip-higher 0.2 / 0.28, token-level loss. */
    public static Objective dapo() {
        return new Objective(Kind.POLICY_GRADIENT, 0.2, 0.28, 0, LossAggregation.TOKEN_MEAN);
    }
}
