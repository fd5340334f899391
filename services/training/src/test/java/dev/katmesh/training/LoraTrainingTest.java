package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * LoRA training: with W' = W + s·B·A, the adapters' gradients are the full weight gradient G of the adapted model
 * projected, ∂L/∂B = s·G·Aᵀ and ∂L/∂A = s·Bᵀ·G, for every objective and every path of the loss (prefix trees,
 * checkpointed pieces, a chunked head); the base stays frozen; and LoRA steps learn.
 */
class LoraTrainingTest {

    static final ModelConfig CONFIG = TreeTrainingTest.CONFIG;
    static final LoraSettings SETTINGS = new LoraSettings(3, 6, LoraSettings.ALL_PROJECTIONS);

    static void randomizeB(LoraAdapters adapters, long seed) {
        Random r = new Random(seed);
        adapters.parameters().forEach((name, a) -> {
            if (name.endsWith("lora_B.weight")) {
                float[] v = new float[(int) a.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (r.nextGaussian() * 0.1);
                }
                Tensors.assign(a, v);
            }
        });
    }

    @Test
    void adapterGradientsAreTheFullGradientProjectedForEveryObjectiveAndPath() {
        List<Objective> objectives = List.of(
                Objective.sft(),
                new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.2, 0.05, LossAggregation.SEQUENCE_MEAN)
                        .withTemperature(0.7),
                Objective.dapo());
        try (DecoderModel model = DecoderModel.random(CONFIG, 31, Device.cpu());
                DecoderModel reference = DecoderModel.random(CONFIG, 32, Device.cpu())) {
            LoraAdapters adapters = LoraAdapters.create(CONFIG, SETTINGS, 5, model.manager());
            randomizeB(adapters, 6);
            model.attachAdapters(adapters);
            adapters.parameters().values().forEach(p -> p.setRequiresGradient(true));
            List<TrainingSample> samples = TreeTrainingTest.branchingSamples(2, 6, model);
            TreeBatch tree = TreeBatch.of(samples);
            long pieces = (long) CONFIG.numHeads() * tree.size() * 7;
            long chunkOf3 = 3L * CONFIG.vocabSize();
            Map<String, Map<String, float[]>> lora = new LinkedHashMap<>();
            Map<String, Float> loraLoss = new LinkedHashMap<>();
            for (Objective objective : objectives) {
                double[][] weights = objective.aggregation().weights(samples);
                for (boolean inPieces : new boolean[] {false, true}) {
                    float[] loss = new float[1];
                    lora.put(
                            objective + "/" + inPieces,
                            TreeTrainingTest.gradientsOf(
                                    model,
                                    scope -> inPieces
                                            ? PolicyLoss.compute(
                                                    scope, model, tree, samples, weights, objective, reference, pieces,
                                                    chunkOf3)
                                            : PolicyLoss.compute(
                                                    scope, model, tree, samples, weights, objective, reference),
                                    loss));
                    loraLoss.put(objective + "/" + inPieces, loss[0]);
                    assertTrue(
                            model.parameters().values().stream().noneMatch(NDArray::hasGradient),
                            "the base weights carry no gradient");
                }
            }
            Map<String, float[]> a = new LinkedHashMap<>();
            Map<String, float[]> b = new LinkedHashMap<>();
            adapters.parameters().forEach((n, p) -> (n.contains("lora_A") ? a : b).put(n, p.toFloatArray()));
            model.mergeAdapters().close();
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            float s = SETTINGS.scale();
            for (Objective objective : objectives) {
                double[][] weights = objective.aggregation().weights(samples);
                float[] fullLoss = new float[1];
                Map<String, float[]> full = TreeTrainingTest.gradientsOf(
                        model,
                        scope -> PolicyLoss.compute(scope, model, tree, samples, weights, objective, reference),
                        fullLoss);
                for (boolean inPieces : new boolean[] {false, true}) {
                    String key = objective + "/" + inPieces;
                    assertEquals(fullLoss[0], loraLoss.get(key), 1e-5 * Math.max(1, Math.abs(fullLoss[0])), key);
                    Map<String, float[]> got = lora.get(key);
                    Map<String, float[]> expected = new LinkedHashMap<>();
                    for (String nameA : a.keySet()) {
                        String module = nameA.substring("base_model.model.".length(), nameA.indexOf(".lora_A"));
                        String nameB = nameA.replace("lora_A", "lora_B");
                        long[] w = model.parameters()
                                .get(module + ".weight")
                                .getShape()
                                .getShape();
                        int out = (int) w[0];
                        int in = (int) w[1];
                        float[] g = full.get(module + ".weight");
                        // dB[o][k] = s·Σ_i G[o][i]·A[k][i];  dA[k][i] = s·Σ_o B[o][k]·G[o][i]
                        float[] dB = new float[out * SETTINGS.rank()];
                        float[] dA = new float[SETTINGS.rank() * in];
                        for (int o = 0; o < out; o++) {
                            for (int k = 0; k < SETTINGS.rank(); k++) {
                                double sum = 0;
                                for (int i = 0; i < in; i++) {
                                    sum += g[o * in + i] * a.get(nameA)[k * in + i];
                                    dA[k * in + i] += s * b.get(nameB)[o * SETTINGS.rank() + k] * g[o * in + i];
                                }
                                dB[o * SETTINGS.rank() + k] = (float) (s * sum);
                            }
                        }
                        expected.put(nameA, dA);
                        expected.put(nameB, dB);
                    }
                    double global = TreeTrainingTest.largestEntry(expected);
                    assertTrue(global > 0, "the adapters have a gradient");
                    for (String name : expected.keySet()) {
                        double rel = TreeTrainingTest.relativeError(expected.get(name), got.get(name), global);
                        assertTrue(rel < 1e-4, key + ": relative error " + rel + " in " + name);
                    }
                }
            }
        }
    }

    @Test
    void loraStepsLearnWhileTheBaseStaysBitExact() {
        ModelConfig config = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
        try (DecoderModel model = DecoderModel.random(config, 3, Device.cpu())) {
            // A fresh model's tied head (N(0, 0.02²) rows against a unit-RMS hidden state) bounds its logits to about
            // ±0.6, and a frozen head keeps that bound whatever the adapters do: scaled up, the head lets the logits
            // range as a trained model's do.
            model.parameters().get("model.embed_tokens.weight").muli(8);
            Map<String, float[]> base = new LinkedHashMap<>();
            model.parameters().forEach((n, p) -> base.put(n, p.toFloatArray()));
            model.attachAdapters(LoraAdapters.create(config, LoraSettings.of(4), 9, model.manager()));
            Trainer trainer = new Trainer(
                    model,
                    new AdamW(model.trainableParameters(), AdamW.Settings.defaults(1e-2)),
                    Objective.dapo(),
                    AdvantageEstimator.GRPO,
                    null);
            double[] firstLast = TrainerTest.rewardBeforeAndAfter(model, trainer, 60);
            assertTrue(
                    firstLast[1] > firstLast[0] + 0.3,
                    "LoRA policy gradient raises the reward: first 5 steps " + firstLast[0] + ", last 5 "
                            + firstLast[1]);
            model.parameters()
                    .forEach((n, p) -> assertArrayEquals(base.get(n), p.toFloatArray(), n + " stayed frozen"));
            // SFT, and error-masked SFT (an erroneous span kept in context without loss), on the same adapters: the
            // loss on a fixed batch falls.
            for (boolean errorMasked : new boolean[] {false, true}) {
                Trainer sft = new Trainer(
                        model,
                        new AdamW(model.trainableParameters(), AdamW.Settings.defaults(1e-2)),
                        Objective.sft(),
                        AdvantageEstimator.GRPO,
                        null);
                List<TrainingSample> batch = new ArrayList<>();
                for (TrainingSample t : TreeTrainingTest.branchingSamples(4, 5)) {
                    boolean[] trainable = t.trainable().clone();
                    if (errorMasked) {
                        Arrays.fill(trainable, 4, 8, false);
                    }
                    batch.add(new TrainingSample(t.tokens(), trainable, t.behaviourLogprobs(), 0));
                }
                String objective = errorMasked ? "error-masked SFT" : "SFT";
                double first = sft.step(List.of(batch), List.of(new double[batch.size()]))
                        .loss();
                double last = first;
                for (int i = 0; i < 30; i++) {
                    last = sft.step(List.of(batch), List.of(new double[batch.size()]))
                            .loss();
                }
                assertTrue(last < first - 0.4, objective + ": loss " + first + " -> " + last);
            }
            assertFalse(model.parameters().values().stream().anyMatch(NDArray::hasGradient), "no base gradients");
        }
    }
}
