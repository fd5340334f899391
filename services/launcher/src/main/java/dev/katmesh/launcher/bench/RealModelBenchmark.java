package dev.katmesh.launcher.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.MemoryBudget;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.PolicyLoss;
import dev.katmesh.training.TrainingSample;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A real checkpoint (e.g. the Qwen3-0.6B shape) against this machine's own limits, measured in the same process:
 * decode tokens/s at batch 1 and 16 against the memory-bandwidth bound (the float32 weights read once per step ÷
 * the read bandwidth of a 512 MB sum), prefill and full fine-tuning tokens/s against the matmul peak (model FLOPs
 * utilisation: 2·N per token forward, 6·N with the backward pass), and a fine-tuning step's peak resident memory
 * against what the method must hold: for full fine-tuning, weights, gradients and AdamW's two moments (4 × the
 * float32 weights); for LoRA, the frozen weights, the adapters four times over and the layer inputs the checkpointed
 * backward pass keeps. With LoRA, it also compares a LoRA version's sync with a full version's ({@link VersionSync}).
 */
public final class RealModelBenchmark {

    private RealModelBenchmark() {}

    /**
     * @param batches       decode batch sizes (none: no decode phase), each after a 32-token prompt
     * @param longContext   one more decode at batch 1 after a prompt of this many tokens (0: none)
     * @param prefillTokens the prefill phase's prompt (0: none)
     * @param trainTokens   sequence lengths of the training steps
     * @param lora          train LoRA adapters of this shape on the frozen weights, and compare a LoRA version's sync
     *                      with a full version's; null: full fine-tuning
     */
    public static ObjectNode run(
            Path dir,
            Device device,
            int[] batches,
            int longContext,
            int prefillTokens,
            int[] trainTokens,
            LoraSettings lora)
            throws Exception {
        ObjectNode out = new ObjectMapper().createObjectNode();
        ModelConfig config = ModelConfig.read(dir.resolve("config.json"));
        long weightBytes = MemoryBudget.weightBytes(config);
        out.put("model", dir.getFileName().toString());
        out.put("parameters", config.parameterCount());
        out.put("weights_f32_gb", Measurements.round(weightBytes / 1e9));
        out.put("allocator", Measurements.allocator());
        // The runtime before any weight: the JVM, the engine's native libraries, the launcher. Not the method's.
        try (NDManager engine = NDManager.newBaseManager(device)) {
            engine.ones(new Shape(64, 64)).matMul(engine.ones(new Shape(64, 64))); // loads and starts the engine
        }
        long runtime = Measurements.Memory.residentBytes();
        out.put("runtime_resident_gb", Measurements.round(runtime / 1e9));
        Measurements.Memory loading = Measurements.Memory.start();
        long t0 = System.nanoTime();
        try (DecoderModel model = DecoderModel.load(dir, config, device)) {
            ObjectNode load = out.putObject("load");
            load.put("seconds", Measurements.round((System.nanoTime() - t0) / 1e9));
            loading.report(load);
            double bandwidth = readBandwidth(model.manager());
            double peak = PrefillBenchmark.matmulPeak(model.manager());
            out.put("read_bandwidth_gbs", Measurements.round(bandwidth / 1e9));
            out.put("matmul_peak_gflops", Measurements.round(peak / 1e9));
            // What decode's matrix-vector products read at: one row times the LM head, the largest of them.
            out.put("head_gemv_bandwidth_gbs", Measurements.round(gemvBandwidth(model) / 1e9));
            double[] pages = Measurements.pageFill();
            out.put("fresh_page_fill_gbs", Measurements.round(pages[0] / 1e9));
            out.put("reused_page_fill_gbs", Measurements.round(pages[1] / 1e9));
            progress("loaded");
            ArrayNode decode = out.putArray("decode");
            for (int batch : batches) {
                if (batch > 0) {
                    decode.add(decodeRow(model, batch, 32, bandwidth, weightBytes));
                }
            }
            if (longContext > 0) {
                decode.add(decodeRow(model, 1, longContext, bandwidth, weightBytes));
            }
            double flopsPerToken = 2.0 * matmulParameters(config);
            if (prefillTokens > 0) {
                double prefillSeconds =
                        PrefillBenchmark.prefill(model, prefillTokens, ContinuousBatcher.PREFILL_ELEMENTS);
                ObjectNode prefill = out.putObject("prefill");
                prefill.put("tokens", prefillTokens);
                prefill.put("tokens_per_s", Measurements.round(prefillTokens / prefillSeconds));
                prefill.put("mfu", Measurements.round(flopsPerToken * prefillTokens / prefillSeconds / peak));
                progress("prefilled " + prefillTokens + " tokens");
            }
            if (lora == null) {
                ArrayNode training = out.putArray("full_fine_tuning");
                model.parameters().values().forEach(p -> p.setRequiresGradient(true));
                // The moments exist from here on: a step's peak below includes them, as a learner's does.
                AdamW optimizer = new AdamW(model.parameters(), AdamW.Settings.defaults(1e-6));
                for (int tokens : trainTokens) {
                    if (tokens <= 0) {
                        continue;
                    }
                    // Forward 2N, backward 4N (the activations' gradients and the weights').
                    training.add(
                            trainStep(model, optimizer, tokens, 3 * flopsPerToken, peak, 4.0 * weightBytes, runtime));
                    progress("trained on " + tokens + " tokens");
                }
            } else {
                LoraAdapters adapters = LoraAdapters.create(config, lora, 1, model.manager());
                model.attachAdapters(adapters);
                adapters.parameters().values().forEach(p -> p.setRequiresGradient(true));
                AdamW optimizer = new AdamW(adapters.parameters(), AdamW.Settings.defaults(1e-4));
                ObjectNode loraNode = out.putObject("lora");
                loraNode.put("rank", lora.rank());
                loraNode.put("adapter_parameters", adapters.size());
                ArrayNode training = loraNode.putArray("steps");
                for (int tokens : trainTokens) {
                    if (tokens <= 0) {
                        continue;
                    }
                    // The minimum: the weights, each adapter element 4 times (value, gradient, two moments), and the
                    // input of every layer, which the checkpointed backward pass recomputes each layer from.
                    double minimum = weightBytes
                            + 16.0 * adapters.size()
                            + 4.0 * config.numLayers() * tokens * config.hiddenSize();
                    // Forward 2N, backward 2N: the activations' gradients only (no weight gradients but the adapters').
                    ObjectNode step = trainStep(model, optimizer, tokens, 2 * flopsPerToken, peak, minimum, runtime);
                    training.add(step);
                    progress("LoRA step on " + tokens + " tokens");
                }
                loraNode.set("sync", VersionSync.compare(model, adapters, dir));
                progress("compared a LoRA version's sync with a full version's");
            }
        }
        return out;
    }

    /** A line on stderr per phase, with the resident set: a run killed for memory still says where. */
    private static void progress(String phase) {
        System.err.printf("%s (resident %.2f GB)%n", phase, Measurements.Memory.residentBytes() / 1e9);
    }

    /** Parameters a token's forward multiplies by: every layer's projections and the LM head (not the lookup). */
    static long matmulParameters(ModelConfig c) {
        long embedding = (long) c.vocabSize() * c.hiddenSize();
        return c.parameterCount() - (c.tieWordEmbeddings() ? 0 : embedding);
    }

    /** Bytes/s of one hidden row times the embedding matrix (the tied head's product at a decode step). */
    private static double gemvBandwidth(DecoderModel model) {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray head = model.parameters().get("model.embed_tokens.weight");
            NDArray x = m.ones(new Shape(1, head.getShape().get(1)), DataType.FLOAT32);
            NDArray headT = head.transpose();
            headT.attach(m);
            double best = 0;
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                try (NDArray y = x.matMul(headT)) {
                    y.toFloatArray();
                }
                best = Math.max(best, head.size() * 4.0 / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }

    /** Bytes/s of summing a 512 MB float32 array, the best of several: the rate weights can be read at. */
    static double readBandwidth(NDManager parent) {
        try (NDManager m = parent.newSubManager()) {
            NDArray a = m.ones(new Shape(128L << 20), DataType.FLOAT32);
            double best = 0;
            for (int i = 0; i < 8; i++) {
                long t0 = System.nanoTime();
                a.sum().getFloat();
                best = Math.max(best, (512.0 * 1048576) / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }

    /**
     * Decode of {@code batch} streams after prompts of {@code context} tokens, against the bound of reading the
     * weights once per step and every stream's KV cache (at the context's length) once per step.
     */
    private static ObjectNode decodeRow(DecoderModel model, int batch, int context, double bandwidth, long weightBytes)
            throws Exception {
        long kvBytes = MemoryBudget.kvBytesPerToken(model.config()) * context * batch;
        double bound = batch * bandwidth / (weightBytes + kvBytes);
        double tokensPerSecond = decode(model, batch, context, 16);
        ObjectNode row = new ObjectMapper().createObjectNode();
        row.put("batch", batch);
        row.put("context", context);
        row.put("tokens_per_s", Measurements.round(tokensPerSecond));
        row.put("bandwidth_bound_tokens_per_s", Measurements.round(bound));
        row.put("fraction_of_bound", Measurements.round(tokensPerSecond / bound));
        progress("decoded at batch " + batch + " after " + context + " tokens");
        return row;
    }

    /** Decode tokens/s of {@code batch} streams generating {@code steps} tokens each after a prompt. */
    private static double decode(DecoderModel model, int batch, int context, int steps) throws Exception {
        try (ContinuousBatcher b = new ContinuousBatcher(
                model, 0, new ContinuousBatcher.Limits(batch, batch * (context + steps) + 64, batch))) {
            long[] firstAndLast = {Long.MAX_VALUE, 0};
            CountDownLatch done = new CountDownLatch(batch);
            for (int s = 0; s < batch; s++) {
                int[] prompt = new Random(s)
                        .ints(context, 3, model.config().vocabSize())
                        .toArray();
                b.submit(prompt, SamplingParams.greedy(steps), 0, new ContinuousBatcher.Listener() {
                    int seen;

                    @Override
                    public boolean onToken(int token, float logprob, long version) {
                        long now = System.nanoTime();
                        synchronized (firstAndLast) {
                            if (++seen == 1) {
                                firstAndLast[0] = Math.min(firstAndLast[0], now);
                            }
                            firstAndLast[1] = Math.max(firstAndLast[1], now);
                        }
                        return true;
                    }

                    @Override
                    public void onFinish(ContinuousBatcher.Finish finish, String message) {
                        done.countDown();
                    }
                });
            }
            if (!done.await(30, TimeUnit.MINUTES)) {
                throw new IllegalStateException("decode did not finish");
            }
            // Tokens after every stream's first (prefill excluded): (steps - 1) per stream, once all have started.
            return (double) batch * (steps - 1) / ((firstAndLast[1] - firstAndLast[0]) / 1e9);
        }
    }

    /** One SFT step (forward, backward, AdamW) on one sequence: time, MFU and peak memory against its minimum. */
    private static ObjectNode trainStep(
            DecoderModel model,
            AdamW optimizer,
            int tokens,
            double flopsPerToken,
            double peak,
            double minimumBytes,
            long runtimeBytes) {
        ObjectNode r = new ObjectMapper().createObjectNode();
        r.put("tokens", tokens);
        int[] ids =
                new Random(tokens).ints(tokens, 3, model.config().vocabSize()).toArray();
        boolean[] trainable = new boolean[tokens];
        Arrays.fill(trainable, 1, tokens, true);
        float[] behaviour = new float[tokens];
        Arrays.fill(behaviour, Float.NaN);
        List<TrainingSample> samples = new ArrayList<>(List.of(new TrainingSample(ids, trainable, behaviour, 0)));
        // The step's peak from what is live: the weights and optimizer state, not the buffers earlier phases freed.
        r.put("released_free_memory", Measurements.releaseFreeMemory());
        r.put("resident_before_gb", Measurements.round(Measurements.Memory.residentBytes() / 1e9));
        Measurements.Memory memory = Measurements.Memory.start();
        try {
            long t0 = System.nanoTime();
            LongTreeBenchmark.step(model, samples, PolicyLoss.ATTENTION_ELEMENTS);
            long t1 = System.nanoTime();
            optimizer.update(1.0); // outside the collector: autograd must not record the update
            r.put("forward_backward_s", Measurements.round((t1 - t0) / 1e9));
            r.put("optimizer_s", Measurements.round((System.nanoTime() - t1) / 1e9));
            double seconds = (System.nanoTime() - t0) / 1e9;
            r.put("tokens_per_s", Measurements.round(tokens / seconds));
            r.put("mfu", Measurements.round(flopsPerToken * tokens / seconds / peak));
            memory.report(r);
            long resident = Measurements.Memory.residentPeakBytes();
            r.put("rss_peak_gb", Measurements.round(resident / 1e9));
            r.put("minimum_gb", Measurements.round(minimumBytes / 1e9));
            r.put("rss_peak_over_minimum", Measurements.round(resident / minimumBytes));
            // The same without the runtime the process held before loading the model (runtime_resident_gb).
            r.put("rss_peak_above_runtime_over_minimum", Measurements.round((resident - runtimeBytes) / minimumBytes));
        } catch (Exception | OutOfMemoryError e) {
            r.put("failed", String.valueOf(e.getMessage()));
        }
        return r;
    }
}
