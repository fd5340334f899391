package dev.katmesh.policy;

/**
 * What one prompt generated.
 *
 * @param tokens       the new token ids
 * @param logprobs     the log-prob of each (see {@link Sampler})
 * @param finishReason "stop" (end-of-sequence or a stop token, included in tokens) or "length"
 */
public record Generation(int[] tokens, float[] logprobs, String finishReason) {}
