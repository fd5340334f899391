package dev.katmesh.launcher.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.MemoryBudget;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Long prompts through the serving engine ({@link ContinuousBatcher}), chunked prefill beside one pass, in one
 * process: time to first token, the Java heap's and the process's peak memory above their level before the
 * request, the KV cache the context holds, and the prefill's FLOP/s against the matmul peak this process
 * measures (model FLOPs utilisation). A one-pass prefill that cannot fit the heap is reported as failed, which is
 * what the chunks exist for.
 */
public final class PrefillBenchmark {

    /** About 1M parameters (the main job's scale) with a 40 960-token context: 32k prompts in seconds on 2 cores. */
    public static final ModelConfig MODEL = new ModelConfig(
            ModelConfig.QWEN3,
            4096,
            128,
            384,
            2,
            4,
            2,
            32,
            1e-6,
            1_000_000.0,
            40_960,
            true,
            false,
            true,
            List.of(2),
            0,
            0.02);

    private PrefillBenchmark() {}

    public static ObjectNode run(Device device, int[] lengths, boolean onePass) throws Exception {
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (DecoderModel model = DecoderModel.random(MODEL, 1, device)) {
            Measurements.putModel(out, MODEL, device);
            out.put("prefill_chunk_elements", ContinuousBatcher.PREFILL_ELEMENTS);
            double peak = matmulPeak(model.manager());
            out.put("matmul_peak_gflops", Measurements.round(peak / 1e9));
            prefill(model, 256, ContinuousBatcher.PREFILL_ELEMENTS); // warm-up
            ArrayNode rows = out.putArray("prompts");
            for (int length : lengths) {
                ObjectNode row = rows.addObject();
                row.put("prompt_tokens", length);
                row.put("kv_cache_mb", Measurements.round(kvBytes(length) / 1048576.0));
                row.set("chunked", measure(model, length, ContinuousBatcher.PREFILL_ELEMENTS, peak));
                if (onePass) {
                    row.set("one_pass", measure(model, length, Long.MAX_VALUE, peak));
                }
            }
        }
        return out;
    }

    /** The KV cache of {@code tokens} positions: keys and values of every layer, f32. */
    static long kvBytes(int tokens) {
        return MemoryBudget.kvBytesPerToken(MODEL) * tokens;
    }

    /** Model FLOPs of a prefill: 2 per parameter per token (embeddings aside), and the attention's two products. */
    static double flops(int tokens) {
        long params = MODEL.parameterCount() - (long) MODEL.vocabSize() * MODEL.hiddenSize();
        double attention =
                2.0 * 2.0 * MODEL.numLayers() * MODEL.numHeads() * MODEL.headDim() * (double) tokens * tokens;
        return 2.0 * params * tokens + attention;
    }

    private static ObjectNode measure(DecoderModel model, int length, long elements, double peak) throws Exception {
        ObjectNode r = new ObjectMapper().createObjectNode();
        Measurements.Memory memory = Measurements.Memory.start();
        try {
            double seconds = prefill(model, length, elements);
            r.put("ttft_s", Measurements.round(seconds));
            memory.report(r);
            r.put("prefill_gflops", Measurements.round(flops(length) / seconds / 1e9));
            r.put("mfu", Measurements.round(flops(length) / seconds / peak));
        } catch (Exception | OutOfMemoryError e) {
            r.put("failed", String.valueOf(e.getMessage()));
        }
        return r;
    }

    /** Seconds from submitting a prompt of {@code length} random tokens to its first token. */
    static double prefill(DecoderModel model, int length, long elements) throws Exception {
        int[] prompt =
                new Random(length).ints(length, 3, model.config().vocabSize()).toArray();
        try (ContinuousBatcher b = new ContinuousBatcher(model, 0, new ContinuousBatcher.Limits(1, length + 1, 1))) {
            b.prefillElements(elements);
            CompletableFuture<Long> first = new CompletableFuture<>();
            long t0 = System.nanoTime();
            b.submit(prompt, SamplingParams.greedy(1), 0, new ContinuousBatcher.Listener() {
                @Override
                public boolean onToken(int token, float logprob, long version) {
                    first.complete(System.nanoTime());
                    return false;
                }

                @Override
                public void onFinish(ContinuousBatcher.Finish finish, String message) {
                    if (finish == ContinuousBatcher.Finish.ERROR) {
                        first.completeExceptionally(new IllegalStateException(message));
                    }
                }
            });
            return (first.get(30, TimeUnit.MINUTES) - t0) / 1e9;
        }
    }

    /**
     * FLOP/s of float32 matmuls, the best of several runs of three shapes (1024³, 2048³, and a 512-row MLP projection
     * of 1024 → 3072): this process's compute limit. One 1024³ product alone read low where its 4 MB output was fresh
     * pages each time, and a model's larger products then ran above its "peak" (MFU over 1).
     */
    static double matmulPeak(NDManager parent) {
        long[][] shapes = {{1024, 1024, 1024}, {2048, 2048, 2048}, {512, 1024, 3072}};
        double best = 0;
        for (long[] mkn : shapes) {
            try (NDManager m = parent.newSubManager()) {
                NDArray a = m.randomUniform(-1, 1, new Shape(mkn[0], mkn[1]));
                NDArray b = m.randomUniform(-1, 1, new Shape(mkn[1], mkn[2]));
                for (int i = 0; i < 6; i++) {
                    long t0 = System.nanoTime();
                    a.matMul(b).close();
                    best = Math.max(best, 2.0 * mkn[0] * mkn[1] * mkn[2] / ((System.nanoTime() - t0) / 1e9));
                }
            }
        }
        return best;
    }
}
