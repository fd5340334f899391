package dev.katmesh.inference;

import dev.katmesh.policy.MemoryBudget;
import dev.katmesh.policy.ModelConfig;

/**
 * How many tokens the running batch may hold, from the memory its KV cache may take: a token costs its keys and
 * values in every layer ({@code 2 · layers · kvHeads · headDim · 4} bytes in f32), so the same token budget is
 * 0.5 MB for a tiny model and 15 GB for Qwen3-0.6B at 65 536 tokens. Admission reserves each request's prompt +
 * max new tokens against this bound (its cache at full length), so the cache never outgrows its memory: the
 * bound leaves a ninth of the memory for the room the cache grows into ({@code KvCache} grows by an eighth).
 */
record KvBudget(long bytesPerToken, long memoryBytes, int tokens) {

    /** The budget of {@code config} within {@code memoryBytes}, and never above {@code maxBatchTokens}. */
    static KvBudget of(ModelConfig config, long memoryBytes, int maxBatchTokens) {
        long perToken = MemoryBudget.kvBytesPerToken(config);
        long fit = memoryBytes / perToken * 8 / 9;
        if (fit < 1) {
            throw new IllegalStateException("katmesh.inference.kv-cache-memory (" + memoryBytes
                    + " bytes) holds not one token of this model's KV cache (" + perToken + " bytes a token)");
        }
        return new KvBudget(perToken, memoryBytes, (int) Math.min(maxBatchTokens, fit));
    }

    @Override
    public String toString() {
        return tokens + " tokens in flight (KV cache " + bytesPerToken + " bytes a token, "
                + (tokens * bytesPerToken >> 20) + " MiB at most of kv-cache-memory " + (memoryBytes >> 20) + " MiB)";
    }
}
