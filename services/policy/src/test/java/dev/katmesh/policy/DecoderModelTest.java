package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The decoder's equivalences: cache vs full forward, batch vs single, tree vs branches; both architectures. */
class DecoderModelTest {

    static final ModelConfig QWEN3 = ModelConfig.qwen3(97, 32, 48, 2, 4, 2, 8);
    static final ModelConfig QWEN2 = new ModelConfig(
            ModelConfig.QWEN2, 97, 32, 48, 2, 4, 1, 8, 1e-6, 10_000.0, 512, false, true, false, List.of(2), 0, 0.2);

    static int[] randomIds(int n, long seed, int vocab) {
        Random r = new Random(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 3 + r.nextInt(vocab - 3);
        }
        return ids;
    }

    static float[] full(DecoderModel m, int[] ids) {
        try (NDManager scope = m.manager().newSubManager()) {
            return m.forward(
                            scope,
                            new int[][] {ids},
                            DecoderModel.positions(0, ids.length),
                            DecoderModel.causal(0, ids.length),
                            null)
                    .toFloatArray();
        }
    }

    @Test
    void swappedWeightsSurviveGarbageCollection() {
        try (DecoderModel served = DecoderModel.random(QWEN3, 1, Device.cpu());
                DecoderModel next = DecoderModel.random(QWEN3, 2, Device.cpu())) {
            served.setWeights(next.toTensors());
            // The Java copies of the new weights become garbage; churn memory so it is reused.
            for (int i = 0; i < 20; i++) {
                System.gc();
                try (NDManager m = served.manager().newSubManager()) {
                    for (int j = 0; j < 50; j++) {
                        m.create(new float[4096]).add(1f);
                        ByteBuffer.allocateDirect(1 << 16).putFloat(0, 7f);
                    }
                }
            }
            int[] ids = randomIds(12, 5, QWEN3.vocabSize());
            float[] got = full(served, ids);
            float[] want = full(next, ids);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-5, "logit " + i + " after a swap and garbage collection");
            }
        }
    }

    @Test
    void kvCacheDecodeEqualsTheFullForward() {
        for (ModelConfig c : List.of(QWEN3, QWEN2)) {
            try (DecoderModel m = DecoderModel.random(c, 11, Device.cpu());
                    KvCache cache = m.newCache()) {
                int[] ids = randomIds(20, 5, c.vocabSize());
                float[] reference = full(m, ids);
                List<Float> incremental = new ArrayList<>();
                int prefill = 7;
                try (NDManager scope = m.manager().newSubManager()) {
                    for (float f : m.forward(
                                    scope,
                                    new int[][] {Arrays.copyOf(ids, prefill)},
                                    DecoderModel.positions(0, prefill),
                                    DecoderModel.causal(0, prefill),
                                    cache)
                            .toFloatArray()) {
                        incremental.add(f);
                    }
                }
                for (int t = prefill; t < ids.length; t++) {
                    try (NDManager scope = m.manager().newSubManager()) {
                        for (float f : m.forward(
                                        scope,
                                        new int[][] {{ids[t]}},
                                        DecoderModel.positions(t, 1),
                                        DecoderModel.causal(t, 1),
                                        cache)
                                .toFloatArray()) {
                            incremental.add(f);
                        }
                    }
                }
                assertEquals(ids.length, cache.length());
                float[] inc = new float[incremental.size()];
                for (int i = 0; i < inc.length; i++) {
                    inc[i] = incremental.get(i);
                }
                float diff = Fixture.maxAbsDiff(reference, inc);
                assertTrue(diff < 1e-5, c.architecture() + ": cache decode differs from the full forward by " + diff);
            }
        }
    }

    @Test
    void aTreeMaskedForwardEqualsSeparateForwardsOfEachBranch() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 3, Device.cpu())) {
            int[] prefix = randomIds(6, 1, 97);
            int[][] branches = {randomIds(4, 2, 97), randomIds(3, 3, 97), randomIds(5, 4, 97)};
            // Depth-first layout: prefix, then each branch; a token sees its ancestors only.
            int n = prefix.length
                    + Arrays.stream(branches).mapToInt(b -> b.length).sum();
            int[] ids = new int[n];
            int[] pos = new int[n];
            boolean[][] attend = new boolean[n][n];
            System.arraycopy(prefix, 0, ids, 0, prefix.length);
            for (int i = 0; i < prefix.length; i++) {
                pos[i] = i;
                Arrays.fill(attend[i], 0, i + 1, true);
            }
            int[] starts = new int[branches.length];
            int o = prefix.length;
            for (int b = 0; b < branches.length; b++) {
                starts[b] = o;
                for (int j = 0; j < branches[b].length; j++) {
                    ids[o + j] = branches[b][j];
                    pos[o + j] = prefix.length + j;
                    Arrays.fill(attend[o + j], 0, prefix.length, true);
                    Arrays.fill(attend[o + j], o, o + j + 1, true);
                }
                o += branches[b].length;
            }
            float[] tree;
            try (NDManager scope = m.manager().newSubManager()) {
                tree = m.forward(scope, new int[][] {ids}, new int[][] {pos}, new boolean[][][] {attend}, null)
                        .toFloatArray();
            }
            int v = 97;
            float[] prefixAlone = full(m, prefix);
            assertTrue(Fixture.maxAbsDiff(prefixAlone, Arrays.copyOf(tree, prefix.length * v)) < 1e-5, "shared prefix");
            for (int b = 0; b < branches.length; b++) {
                float[] separate = full(m, HuggingFaceReferenceTest.concat(prefix, branches[b]));
                float[] branchRows = Arrays.copyOfRange(tree, starts[b] * v, (starts[b] + branches[b].length) * v);
                float[] separateRows = Arrays.copyOfRange(separate, prefix.length * v, separate.length);
                float diff = Fixture.maxAbsDiff(separateRows, branchRows);
                assertTrue(diff < 1e-5, "branch " + b + " differs by " + diff);
            }
        }
    }

    @Test
    void batchedGenerationEqualsOneAtATime() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 9, Device.cpu())) {
            Generator g = new Generator(m);
            List<int[]> prompts = List.of(randomIds(3, 1, 97), randomIds(9, 2, 97), randomIds(6, 3, 97));
            List<SamplingParams> params = List.of(
                    SamplingParams.greedy(12), SamplingParams.sample(10, 0.8f, 0.9f, 42), SamplingParams.greedy(5));
            List<Generation> batched = g.generate(prompts, params);
            for (int i = 0; i < prompts.size(); i++) {
                Generation alone = g.generate(prompts.get(i), params.get(i));
                assertArrayEquals(alone.tokens(), batched.get(i).tokens(), "sequence " + i);
                assertTrue(
                        Fixture.maxAbsDiff(alone.logprobs(), batched.get(i).logprobs()) < 1e-4,
                        "log-probs of sequence " + i);
                assertEquals(alone.finishReason(), batched.get(i).finishReason());
            }
        }
    }

    @Test
    void tokenLogProbsAreDifferentiable() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 4, Device.cpu())) {
            m.parameters().values().forEach(p -> p.setRequiresGradient(true));
            int[] ids = randomIds(8, 6, 97);
            try (NDManager scope = m.manager().newSubManager();
                    var gc = Engine.getInstance().newGradientCollector()) {
                NDArray lp = m.tokenLogProbs(
                        scope,
                        new int[][] {Arrays.copyOf(ids, 7)},
                        DecoderModel.positions(0, 7),
                        DecoderModel.causal(0, 7),
                        new int[][] {Arrays.copyOfRange(ids, 1, 8)});
                gc.backward(lp.sum().neg());
            }
            float[] g = m.parameters()
                    .get("model.layers.0.self_attn.q_proj.weight")
                    .getGradient()
                    .toFloatArray();
            assertTrue(Arrays.stream(toDouble(g)).anyMatch(x -> x != 0), "gradients reach the first layer");
        }
    }

    /** See Tensors: operands autograd saves must not live in memory the JVM may collect before backward. */
    @Test
    void gradientsDoNotDependOnGarbageCollectionBetweenForwardAndBackward() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 4, Device.cpu())) {
            m.parameters().values().forEach(p -> p.setRequiresGradient(true));
            int[] ids = randomIds(12, 6, 97);
            Map<String, float[]> plain = nllGradients(m, ids, false);
            Map<String, float[]> collected = nllGradients(m, ids, true);
            for (String name : plain.keySet()) {
                assertTrue(
                        Fixture.maxAbsDiff(plain.get(name), collected.get(name)) < 1e-6,
                        name + " changes when the JVM collects garbage");
                assertTrue(Arrays.stream(toDouble(plain.get(name))).anyMatch(x -> x != 0), name + " gets a gradient");
            }
        }
    }

    private static Map<String, float[]> nllGradients(DecoderModel m, int[] ids, boolean collectGarbage) {
        int n = ids.length - 1;
        try (NDManager scope = m.manager().newSubManager();
                var gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();
            NDArray lp = m.tokenLogProbs(
                    scope,
                    new int[][] {Arrays.copyOf(ids, n)},
                    DecoderModel.positions(0, n),
                    DecoderModel.causal(0, n),
                    new int[][] {Arrays.copyOfRange(ids, 1, ids.length)});
            NDArray loss = lp.sum().neg();
            if (collectGarbage) {
                System.gc();
                System.gc();
            }
            gc.backward(loss);
        }
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((name, p) -> out.put(name, p.getGradient().toFloatArray()));
        return out;
    }

    @Test
    void maskedTokensGetNoLossAndNoGradientButStayInContext() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 12, Device.cpu())) {
            int[] ids = randomIds(9, 2, 97);
            int[] input = Arrays.copyOf(ids, 8);
            int[] targets = Arrays.copyOfRange(ids, 1, 9);
            float[][] weights = {{1, 1, 0, 0, 0, 1, 1, 0.5f}};
            float a = nll(m, input, targets, weights);
            int[] otherTargets = targets.clone();
            otherTargets[2] = (otherTargets[2] + 1) % 97; // a masked target changes: the loss does not
            otherTargets[3] = (otherTargets[3] + 5) % 97;
            assertEquals(a, nll(m, input, otherTargets, weights), 1e-6f);
            int[] otherInput = input.clone();
            otherInput[3] = (otherInput[3] + 7) % 97; // a masked token's id is still context for later tokens
            assertTrue(Math.abs(a - nll(m, otherInput, targets, weights)) > 1e-6, "masked tokens stay in context");
        }
    }

    private static float nll(DecoderModel m, int[] input, int[] targets, float[][] weights) {
        try (NDManager scope = m.manager().newSubManager()) {
            NDArray lp = m.tokenLogProbs(
                    scope,
                    new int[][] {input},
                    DecoderModel.positions(0, input.length),
                    DecoderModel.causal(0, input.length),
                    new int[][] {targets});
            return m.weightedNll(scope, lp, weights).getFloat();
        }
    }

    @Test
    void samplingIsReproducibleBySeedAndTopK1IsGreedy() {
        try (DecoderModel m = DecoderModel.random(QWEN3, 8, Device.cpu())) {
            Generator g = new Generator(m);
            int[] prompt = randomIds(5, 1, 97);
            Generation a = g.generate(prompt, SamplingParams.sample(20, 1.5f, 1f, 7));
            Generation b = g.generate(prompt, SamplingParams.sample(20, 1.5f, 1f, 7));
            Generation c = g.generate(prompt, SamplingParams.sample(20, 1.5f, 1f, 8));
            assertArrayEquals(a.tokens(), b.tokens(), "same seed, same tokens");
            assertNotEquals(Arrays.toString(a.tokens()), Arrays.toString(c.tokens()), "another seed, other tokens");
            Generation topK1 = g.generate(prompt, new SamplingParams(20, 1.5f, 1, 1f, 3, Set.of()));
            assertArrayEquals(
                    g.generate(prompt, SamplingParams.greedy(20)).tokens(), topK1.tokens(), "top-k 1 is greedy");
            int stop = a.tokens()[4];
            Generation stopped = g.generate(prompt, new SamplingParams(20, 1.5f, 0, 1f, 7, Set.of(stop)));
            assertEquals("stop", stopped.finishReason());
            assertEquals(stop, stopped.tokens()[stopped.tokens().length - 1], "the stop token ends the output");
            assertTrue(stopped.tokens().length <= 5);
            assertEquals("length", a.finishReason());
        }
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        float[] logits = {5f, 4.9f, 0f, -1f, -2f};
        Sampler s = new Sampler(SamplingParams.sample(1, 1f, 0.5f, 1));
        for (int i = 0; i < 200; i++) {
            int t = s.next(logits).token();
            assertTrue(t == 0, "top-p 0.5 keeps only the most likely token here, drew " + t);
        }
        Sampler wide = new Sampler(SamplingParams.sample(1, 1f, 0.95f, 1));
        boolean sawSecond = false;
        for (int i = 0; i < 200; i++) {
            int t = wide.next(logits).token();
            assertTrue(t <= 1, "top-p 0.95 keeps the two likely tokens, drew " + t);
            sawSecond |= t == 1;
        }
        assertTrue(sawSecond);
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
