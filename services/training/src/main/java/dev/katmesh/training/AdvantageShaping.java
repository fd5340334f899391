package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Advantages reshaped by each group's pass rate (KAT-Dev-72B-Exp's model card: "to prevent exploration collapse
 * observed in RL training, we reshaped advantage distribution based on pass rates: amplifying the advantage scale of
 * highly exploratory groups while reducing that of low-exploration ones"). The card gives no formula; this one is our
 * reconstruction (docs/algorithms.md, "Advantages shaped by the group's pass rate"):
 *
 * <pre>
 *   p_g = share of group g's samples with reward ≥ threshold       (its pass rate)
 *   e_g = 4 · p_g · (1 − p_g)                                      (its exploration: 1 at p = ½, 0 when all pass or fail)
 *   s_g = (1 − α) + α · e_g / mean_h e_h                           (the step's groups h; s = 1 when every e_h is 0)
 *   A_i ← s_g · A_i                                                (after the group's estimator: GRPO, Dr. GRPO, RLOO)
 * </pre>
 *
 * Normalising by the step's mean keeps the mean scale at 1, so the step size stays that of the plain estimator and
 * only its spread between groups changes; α = 0 is the estimator alone.
 *
 * @param kind      {@link Kind#NONE} (the default) or {@link Kind#PASS_RATE}
 * @param threshold the reward at or above which a sample passes
 * @param strength  α in [0, 1]
 */
public record AdvantageShaping(Kind kind, double threshold, double strength) {

    public enum Kind {
        NONE,
        PASS_RATE
    }

    public static final AdvantageShaping NONE = new AdvantageShaping(Kind.NONE, 1.0, 0);

    public AdvantageShaping {
        if (kind == null || !Double.isFinite(threshold) || !(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException(
                    "advantage shaping needs a kind, a finite threshold and a strength in [0, 1], got " + kind + ", "
                            + threshold + ", " + strength);
        }
    }

    public static AdvantageShaping passRate(double threshold, double strength) {
        return new AdvantageShaping(Kind.PASS_RATE, threshold, strength);
    }

    /** The scale of each group's advantages, from the groups' rewards (all 1 without shaping). */
    public double[] scales(List<double[]> groupRewards) {
        int n = groupRewards.size();
        double[] s = new double[n];
        Arrays.fill(s, 1.0);
        if (kind == Kind.NONE || n == 0 || strength == 0) {
            return s;
        }
        double[] e = new double[n];
        double mean = 0;
        for (int g = 0; g < n; g++) {
            double[] r = groupRewards.get(g);
            int pass = 0;
            for (double x : r) {
                pass += x >= threshold ? 1 : 0;
            }
            double p = r.length == 0 ? 0 : (double) pass / r.length;
            e[g] = 4 * p * (1 - p);
            mean += e[g] / n;
        }
        if (mean == 0) {
            return s; // no group explores: nothing to tell them apart by
        }
        for (int g = 0; g < n; g++) {
            s[g] = (1 - strength) + strength * e[g] / mean;
        }
        return s;
    }

    /** A stage's {@code advantage_shaping: {kind: pass_rate, threshold: 1.0, strength: 1.0}}; absent: none. */
    public static AdvantageShaping parse(JsonNode node, String where) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return NONE;
        }
        Kind kind;
        try {
            kind = Kind.valueOf(node.path("kind").asText("none").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": advantage_shaping.kind must be none or pass_rate, not '"
                    + node.path("kind").asText() + "'");
        }
        try {
            return kind == Kind.NONE
                    ? NONE
                    : new AdvantageShaping(
                            kind,
                            node.path("threshold").asDouble(1.0),
                            node.path("strength").asDouble(1.0));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": advantage_shaping: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return kind == Kind.NONE ? "none" : "pass_rate(threshold " + threshold + ", strength " + strength + ")";
    }
}
