package dev.katmesh.training;

/**
 * One trajectory as the learner trains it: the whole token sequence, which tokens get a loss term
 * (the policy's own tokens, minus those of erroneous turns under error-masked SFT), and what RL needs.
 *
 * @param tokens            the conversation's token ids, as the model saw them
 * @param trainable         trainable[t]: token t gets a loss term (predicted from tokens[0..t-1]);
 *                          trainable[0] is ignored
 * @param behaviourLogprobs log-prob of token t under the policy that sampled it (NaN where unknown)
 * @param advantage         the trajectory's advantage (1 for SFT)
 */
public record TrainingSample(int[] tokens, boolean[] trainable, float[] behaviourLogprobs, double advantage) {

    public TrainingSample {
        if (trainable.length != tokens.length || behaviourLogprobs.length != tokens.length) {
            throw new IllegalArgumentException("tokens, trainable and behaviourLogprobs must have the same length");
        }
    }

    /** Number of tokens with a loss term. */
    public int trainableCount() {
        int n = 0;
        for (int t = 1; t < tokens.length; t++) {
            if (trainable[t]) {
                n++;
            }
        }
        return n;
    }
}
