package dev.katmesh.training;

/**
 * What a training step optimises, per trainable token (formulas and sources in docs/algorithms.md).
 *
 * @param kind        the loss
 * @param epsLow      PPO clip range below 1 (ratio ≥ 1 - epsLow)
 * @param epsHigh     PPO clip range above 1; DAPO's clip-higher sets it above epsLow
 * @param klBeta      weight of the KL penalty to a frozen reference policy (0 = none)
 * @param aggregation how token losses are summed
 */
public record Objective(Kind kind, double epsLow, double epsHigh, double klBeta, LossAggregation aggregation) {

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
    }

    public static Objective sft() {
        return new Objective(Kind.SFT, 0.2, 0.2, 0, LossAggregation.TOKEN_MEAN);
    }

    /** Clipped policy gradient with DAPO's defaults: clip-higher 0.2 / 0.28, token-level loss. */
    public static Objective dapo() {
        return new Objective(Kind.POLICY_GRADIENT, 0.2, 0.28, 0, LossAggregation.TOKEN_MEAN);
    }
}
