package dev.katmesh.training;

import java.util.List;

/**
 * How per-token losses of a batch are summed into one number: the weight each trainable token gets.
 * (Loss = Σ weight · per-token loss.)
 */
public enum LossAggregation {
    /** Token-level (DAPO, Yu et al., 2025): every trainable token of the batch weighs 1 / (tokens in the batch). */
    TOKEN_MEAN,
    /** Sequence-level (GRPO): the mean over sequences of each sequence's token mean: 1 / (sequences · its tokens). */
    SEQUENCE_MEAN,
    /** Dr. GRPO: a constant normaliser, 1 / (sequences · the longest sequence's trainable tokens), free of length bias. */
    CONSTANT;

    /** weights[s][t] for every trainable token t of every sample s (0 elsewhere). */
    public double[][] weights(List<TrainingSample> samples) {
        int total = 0;
        int longest = 0;
        for (TrainingSample s : samples) {
            total += s.trainableCount();
            longest = Math.max(longest, s.trainableCount());
        }
        double[][] w = new double[samples.size()][];
        for (int i = 0; i < samples.size(); i++) {
            TrainingSample s = samples.get(i);
            w[i] = new double[s.tokens().length];
            int n = s.trainableCount();
            double v = switch (this) {
                case TOKEN_MEAN -> total == 0 ? 0 : 1.0 / total;
                case SEQUENCE_MEAN -> n == 0 ? 0 : 1.0 / ((double) samples.size() * n);
                case CONSTANT -> longest == 0 ? 0 : 1.0 / ((double) samples.size() * longest);
            };
            for (int t = 1; t < w[i].length; t++) {
                w[i][t] = s.trainable()[t] ? v : 0;
            }
        }
        return w;
    }
}
