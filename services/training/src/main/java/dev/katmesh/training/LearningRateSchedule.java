package dev.katmesh.training;

/**
 * A stage's learning rate over its steps, as a factor of the stage's {@code learning_rate}: a linear
 * warm-up, then constant, or a cosine or linear decay to {@code minRatio} at the stage's last step.
 *
 * <p>Why decay: at a constant rate the supervised stages end wherever the last batches left the weights,
 * and consecutive checkpoints of a small model differ by several held-out points; annealing ends the stage
 * at a settled point, which is the checkpoint the next stage (and its comparison) starts from. A function
 * of the stage's step only, so a learner resumed mid-stage continues on the same curve.
 *
 * @param kind        the shape after the warm-up
 * @param warmupSteps steps of linear warm-up from {@code 1/(warmupSteps+1)} to 1
 * @param minRatio    the factor at the stage's last step (decaying kinds)
 */
public record LearningRateSchedule(Kind kind, long warmupSteps, double minRatio) {

    public enum Kind {
        CONSTANT,
        COSINE,
        LINEAR
    }

    public static final LearningRateSchedule CONSTANT = new LearningRateSchedule(Kind.CONSTANT, 0, 1);

    public LearningRateSchedule {
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmup_steps must be >= 0, got " + warmupSteps);
        }
        if (!(minRatio >= 0 && minRatio <= 1)) {
            throw new IllegalArgumentException("min_ratio must be in [0, 1], got " + minRatio);
        }
    }

    /** The factor at step {@code step} (0-based) of a stage of {@code steps} steps. */
    public double factor(long step, long steps) {
        if (step < warmupSteps) {
            return (step + 1.0) / (warmupSteps + 1.0);
        }
        if (kind == Kind.CONSTANT) {
            return 1;
        }
        long span = steps - warmupSteps - 1;
        double progress = span <= 0 ? 0 : Math.min(1, (double) (step - warmupSteps) / span);
        double shape = kind == Kind.COSINE ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
        return minRatio + (1 - minRatio) * shape;
    }
}
