package dev.katmesh.training;

/**
 * Group-relative advantages: each trajectory's reward compared with the other samples of its group
 * (same task or prompt), so no value network is needed. Formulas and sources in docs/algorithms.md.
 */
public enum AdvantageEstimator {
    /** GRPO (Shao et al., 2024, DeepSeekMath): A_i = (r_i - mean(r)) / (std(r) + ε), sample std. */
    GRPO,
    /** Dr. GRPO (Liu et al., 2025, "Understanding R1-Zero-Like Training"): A_i = r_i - mean(r), no std. */
    DR_GRPO,
    /** RLOO (Ahmadian et al., 2024): A_i = r_i - mean_{j≠i}(r_j) = G/(G-1) · (r_i - mean(r)). */
    RLOO;

    static final double EPSILON = 1e-6;

    public double[] compute(double[] rewards) {
        int g = rewards.length;
        double[] a = new double[g];
        if (g == 0) {
            return a;
        }
        double mean = 0;
        for (double r : rewards) {
            mean += r;
        }
        mean /= g;
        switch (this) {
            case GRPO -> {
                double var = 0;
                for (double r : rewards) {
                    var += (r - mean) * (r - mean);
                }
                double std = g > 1 ? Math.sqrt(var / (g - 1)) : 0;
                for (int i = 0; i < g; i++) {
                    a[i] = (rewards[i] - mean) / (std + EPSILON);
                }
            }
            case DR_GRPO -> {
                for (int i = 0; i < g; i++) {
                    a[i] = rewards[i] - mean;
                }
            }
            case RLOO -> {
                for (int i = 0; i < g; i++) {
                    a[i] = g > 1 ? (rewards[i] - mean) * g / (g - 1) : 0;
                }
            }
            default -> throw new IllegalStateException("no advantage rule for " + this);
        }
        return a;
    }

    /** DAPO's dynamic sampling: a group whose rewards are all equal teaches nothing and is skipped. */
    public static boolean hasSignal(double[] rewards) {
        for (double r : rewards) {
            if (Math.abs(r - rewards[0]) > 1e-12) {
                return true;
            }
        }
        return false;
    }
}
