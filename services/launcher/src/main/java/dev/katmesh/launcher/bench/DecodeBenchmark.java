package dev.katmesh.launcher.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.KvCache;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Decode throughput, measured side by side in one run (absolute times on a shared machine are noise;
 * the ratios are the result):
 *
 * <ul>
 *   <li>KV cache against recomputing the whole sequence, one new token per step, at several contexts;
 *   <li>batched decode (one loop for B sequences) against the same B requests one at a time.
 * </ul>
 *
 * Each configuration is measured {@code repeats} times, alternating the two sides, and the median is kept.
 */
public final class DecodeBenchmark {

    /** About 11M parameters: the size the issue asks for, small enough for 2 CPU cores. */
    public static final ModelConfig MODEL = ModelConfig.qwen3(4096, 384, 1024, 6, 6, 2, 64);

    private final DecoderModel model;
    private final int repeats;

    public DecodeBenchmark(DecoderModel model, int repeats) {
        this.model = model;
        this.repeats = repeats;
    }

    public static ObjectNode run(Device device, int[] contexts, int[] batches, int steps, int repeats) {
        try (DecoderModel m = DecoderModel.random(MODEL, 1, device)) {
            DecodeBenchmark b = new DecodeBenchmark(m, repeats);
            ObjectNode out = new ObjectMapper().createObjectNode();
            ObjectNode info = out.putObject("model");
            info.put("parameters", MODEL.parameterCount());
            info.put("layers", MODEL.numLayers());
            info.put("hidden", MODEL.hiddenSize());
            info.put("device", device.toString());
            out.put("steps", steps);
            out.put("repeats", repeats);
            b.warmUp();
            ArrayNode kv = out.putArray("kv_cache");
            for (int c : contexts) {
                double[] r = b.cacheVersusRecompute(c, steps);
                ObjectNode row = kv.addObject();
                row.put("context", c);
                row.put("cached_tokens_per_s", Measurements.round(r[0]));
                row.put("recompute_tokens_per_s", Measurements.round(r[1]));
                row.put("speedup", Measurements.round(r[0] / r[1]));
            }
            ArrayNode batching = out.putArray("batching");
            Double batch1 = null;
            for (int size : batches) {
                double[] r = b.batchedVersusSequential(size, 32, steps);
                if (batch1 == null) {
                    batch1 = r[0];
                }
                ObjectNode row = batching.addObject();
                row.put("batch", size);
                row.put("batched_tokens_per_s", Measurements.round(r[0]));
                row.put("one_at_a_time_tokens_per_s", Measurements.round(r[1]));
                row.put("speedup_vs_one_at_a_time", Measurements.round(r[0] / r[1]));
                row.put("speedup_vs_batch_1", Measurements.round(r[0] / batch1));
            }
            return out;
        }
    }

    private void warmUp() {
        // Let the JIT and libtorch's allocator settle before anything is timed.
        for (int i = 0; i < 3; i++) {
            new Generator(model).generate(prompt(32, i), SamplingParams.greedy(16));
            cached(prompt(64, i), 32);
            recompute(prompt(32, i), 8);
        }
    }

    /** tokens/s with the cache and with full recomputation, medians over the repeats (decode steps only). */
    double[] cacheVersusRecompute(int context, int steps) {
        int[] p = prompt(context, context);
        double[] cached = new double[repeats];
        double[] recomputed = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            cached[r] = steps / (cached(p, steps) / 1e9);
            long t0 = System.nanoTime();
            recompute(p, steps);
            recomputed[r] = steps / ((System.nanoTime() - t0) / 1e9);
        }
        return new double[] {Measurements.median(cached), Measurements.median(recomputed)};
    }

    /** Greedy decoding with a KV cache; returns the nanoseconds of the decode steps (prefill excluded). */
    private long cached(int[] prompt, int steps) {
        try (KvCache cache = model.newCache()) {
            int len = prompt.length;
            int next = greedyLast(prompt, DecoderModel.positions(0, len), DecoderModel.causal(0, len), cache);
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                next = greedyLast(new int[] {next}, DecoderModel.positions(len, 1), DecoderModel.causal(len, 1), cache);
                len++;
            }
            return System.nanoTime() - t0;
        }
    }

    private int greedyLast(int[] ids, int[][] positions, boolean[][][] attend, KvCache cache) {
        try (NDManager scope = model.manager().newSubManager()) {
            float[] last = model.logits(
                            scope,
                            model.hidden(scope, new int[][] {ids}, positions, attend, cache)
                                    .get(new NDIndex(":, -1:, :")))
                    .toFloatArray();
            int best = 0;
            for (int i = 1; i < last.length; i++) {
                if (last[i] > last[best]) {
                    best = i;
                }
            }
            return best;
        }
    }

    /** Greedy decoding without a cache: every step runs the whole sequence again. */
    private void recompute(int[] prompt, int steps) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + steps);
        int len = prompt.length;
        for (int s = 0; s < steps; s++) {
            seq[len] = greedyLast(
                    Arrays.copyOf(seq, len), DecoderModel.positions(0, len), DecoderModel.causal(0, len), null);
            len++;
        }
    }

    /** tokens/s of one batched decode loop and of the same requests one at a time. */
    double[] batchedVersusSequential(int batch, int promptLength, int steps) {
        Generator g = new Generator(model);
        List<int[]> prompts = new ArrayList<>();
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            prompts.add(prompt(promptLength, 100 + i));
            params.add(new SamplingParams(
                    steps, 0.8f, 0, 1f, i, Set.of())); // no early stop: eos is not a special case here
        }
        double[] batched = new double[repeats];
        double[] single = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            int produced = g.generate(prompts, params).stream()
                    .mapToInt(x -> x.tokens().length)
                    .sum();
            batched[r] = produced / ((System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            int one = 0;
            for (int i = 0; i < batch; i++) {
                one += g.generate(prompts.get(i), params.get(i)).tokens().length;
            }
            single[r] = one / ((System.nanoTime() - t0) / 1e9);
        }
        return new double[] {Measurements.median(batched), Measurements.median(single)};
    }

    private static int[] prompt(int n, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 3 + r.nextInt(MODEL.vocabSize() - 3);
        }
        return ids;
    }
}
