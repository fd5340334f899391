package dev.katmesh.policy;

import java.util.Set;

/**
 * How to pick tokens.
 *
 * @param maxNewTokens upper bound on generated tokens
 * @param temperature  softmax temperature; 0 = greedy (argmax)
 * @param topK         keep the k most likely tokens (0 = all)
 * @param topP         keep the smallest set of tokens whose mass reaches p (1 = all)
 * @param seed         the sampler's seed: same seed, prompt and weights give the same tokens
 * @param stopTokenIds tokens that end generation, besides the model's end-of-sequence tokens
 */
public record SamplingParams(
        int maxNewTokens, float temperature, int topK, float topP, long seed, Set<Integer> stopTokenIds) {

    public SamplingParams {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must lie in (0, 1], got " + topP);
        }
        stopTokenIds = Set.copyOf(stopTokenIds);
    }

    public static SamplingParams greedy(int maxNewTokens) {
        return new SamplingParams(maxNewTokens, 0f, 0, 1f, 0, Set.of());
    }

    public static SamplingParams sample(int maxNewTokens, float temperature, float topP, long seed) {
        return new SamplingParams(maxNewTokens, temperature, 0, topP, seed, Set.of());
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }
}
