package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.DecoderModel;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The off-policy corrections' weights and mismatch against values computed by hand, and their gradients. */
class OffPolicyCorrectionTest {

    // Three trained tokens: two of sample 0 (δ = +0.5 and -1), one of sample 1 with no behaviour log-prob.
    static final float[] LEARNER = {-1f, -2f, -0.5f};
    static final float[] BEHAVIOUR = {-1.5f, -1f, Float.NaN};
    static final int[] SAMPLE_OF = {0, 0, 1};

    @Test
    void theMismatchIsMeasuredOnTokensWithAKnownBehaviourLogProb() {
        PolicyMismatch m =
                OffPolicyCorrection.NONE.weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2).mismatch();
        assertEquals(2, m.tokens(), "the token without a behaviour log-prob is left out");
        assertEquals(1, m.sequences(), "sample 1 has no known token");
        // k1 = -(0.5) - (-1) = 0.5; k3 = (e^0.5 - 1 - 0.5) + (e^-1 - 1 + 1) = 0.148721 + 0.367879
        assertEquals(0.5, m.k1(), 1e-6);
        assertEquals(0.516600, m.k3(), 1e-6);
        assertEquals(0.258300, m.tokenKl(), 1e-6);
        assertEquals(0.516600, m.sequenceKl(), 1e-6);
        assertEquals(0.25, m.tokenK1(), 1e-6);
        assertArrayEquals(
                new float[] {1, 1, 1},
                OffPolicyCorrection.NONE.weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2).weights(),
                "no correction weighs every token 1");
    }

    @Test
    void tokenTisTruncatesEachRatioAtItsCap() {
        OffPolicyCorrection.Weights w = OffPolicyCorrection.tokenTis(1.5).weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2);
        // ρ = e^0.5 = 1.6487 -> 1.5 (truncated); e^-1 = 0.3679 kept; unknown -> 1
        assertArrayEquals(new float[] {1.5f, 0.367879f, 1f}, w.weights(), 1e-6f);
        assertEquals(1, w.mismatch().truncated());
        assertEquals(0.5, w.mismatch().truncatedFraction(), 1e-9);
        assertEquals(0, w.mismatch().maskedSequences(), "a token-level correction masks no sequence");
    }

    @Test
    void sequenceMisWeighsASequenceByItsRatioOrMasksItOutsideTheBounds() {
        // Sample 0: log ρ(y) = 0.5 - 1 = -0.5, ρ = 0.60653
        OffPolicyCorrection.Weights inside =
                OffPolicyCorrection.sequenceMis(0.5, 2).weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2);
        assertArrayEquals(new float[] {0.606531f, 0.606531f, 1f}, inside.weights(), 1e-6f);
        assertEquals(0, inside.mismatch().maskedSequences());

        OffPolicyCorrection.Weights outside =
                OffPolicyCorrection.sequenceMis(0.8, 1.25).weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2);
        assertArrayEquals(new float[] {0f, 0f, 1f}, outside.weights(), "ρ = 0.607 < 0.8: the sequence is masked");
        assertEquals(1, outside.mismatch().maskedSequences());
        assertEquals(2, outside.mismatch().maskedTokens());
        assertEquals(1.0, outside.mismatch().maskedFraction(), 1e-9, "one sequence of one with a known token");
    }

    @Test
    void geometricMisMasksOnThePerTokenMeanAndOtherwiseWeighsOne() {
        // Sample 0: mean log ratio = -0.25, ρ_geo = 0.7788
        assertArrayEquals(
                new float[] {0f, 0f, 1f},
                OffPolicyCorrection.geometricMis(0.9, 1.1)
                        .weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2)
                        .weights());
        assertArrayEquals(
                new float[] {1f, 1f, 1f},
                OffPolicyCorrection.geometricMis(0.7, 1.3)
                        .weigh(LEARNER, BEHAVIOUR, SAMPLE_OF, 2)
                        .weights());
    }

    @Test
    void aLongSequencesProductIsComparedInLogSpaceWithoutOverflow() {
        int n = 2000;
        float[] learner = new float[n];
        float[] behaviour = new float[n];
        Arrays.fill(behaviour, -1f); // δ = +1 a token: ρ(y) = e^2000, beyond a double
        OffPolicyCorrection.Weights w =
                OffPolicyCorrection.sequenceMis(0.5, 2).weigh(learner, behaviour, new int[n], 1);
        assertEquals(0f, w.weights()[0], "masked, not NaN or infinite");
        assertEquals(1, w.mismatch().maskedSequences());
    }

    @Test
    void aStagesBlockIsParsedAndBadValuesAreRefusedWithTheStageNamed() throws Exception {
        ObjectMapper json = new ObjectMapper();
        assertEquals(OffPolicyCorrection.NONE, OffPolicyCorrection.parse(null, "s"));
        OffPolicyCorrection tis =
                OffPolicyCorrection.parse(json.readTree("{\"correction\":\"token_tis\",\"cap\":3}"), "s");
        assertEquals(OffPolicyCorrection.Kind.TOKEN_TIS, tis.kind());
        assertEquals(3, tis.cap());
        OffPolicyCorrection mis =
                OffPolicyCorrection.parse(json.readTree("{\"correction\":\"sequence_mis\",\"high\":4}"), "s");
        assertEquals(0.25, mis.low(), 1e-12, "the lower bound defaults to 1/high");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> OffPolicyCorrection.parse(
                        json.readTree("{\"correction\":\"token_tis\",\"cap\":0.5}"), "stage 'rft'"));
        assertTrue(e.getMessage().contains("stage 'rft'") && e.getMessage().contains("cap"), e.getMessage());
        e = assertThrows(
                IllegalArgumentException.class,
                () -> OffPolicyCorrection.parse(json.readTree("{\"correction\":\"tis\"}"), "stage 'rft'"));
        assertTrue(e.getMessage().contains("token_tis"), e.getMessage());
    }

    /**
     * With a correction, a token's gradient is -w·A·(its aggregation weight)·∇log π (the ratio π/π_old is 1 at
     * π_old = π): the same as an SFT loss (-Σ weight·log π) whose token weights are w·A·weight. Checked against that SFT loss's
     * gradients on a model, for each correction, with behaviour log-probs off the model's by known amounts.
     */
    @Test
    void aCorrectedPolicyGradientsGradientIsTheWeightedLogLikelihoodsOne() {
        int[] tokens = {4, 9, 13, 21, 8};
        boolean[] trainable = {false, false, true, true, true};
        for (OffPolicyCorrection c : List.of(
                OffPolicyCorrection.tokenTis(1.2),
                OffPolicyCorrection.sequenceMis(0.5, 2),
                OffPolicyCorrection.geometricMis(0.9, 1.1))) {
            try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 7, Device.cpu())) {
                float[] current = logProbs(model, tokens);
                float[] behaviour = {Float.NaN, Float.NaN, current[2] - 0.4f, current[3] + 0.3f, current[4] - 0.1f};
                double advantage = -1.5;
                List<TrainingSample> batch = List.of(new TrainingSample(tokens, trainable, behaviour, advantage));
                Objective pg = Objective.dapo().withCorrection(c);
                double[][] agg = pg.aggregation().weights(batch);
                float[] w = c.weigh(
                                new float[] {current[2], current[3], current[4]},
                                new float[] {behaviour[2], behaviour[3], behaviour[4]},
                                new int[3],
                                1)
                        .weights();
                double[][] sftWeights = new double[1][5];
                for (int t = 2; t < 5; t++) {
                    sftWeights[0][t] = w[t - 2] * advantage * agg[0][t];
                }
                Map<String, float[]> pgGrad = gradients(model, batch, agg, pg);
                Map<String, float[]> sftGrad = gradients(model, batch, sftWeights, Objective.sft());
                for (String name : List.of("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight")) {
                    assertArrayEquals(sftGrad.get(name), pgGrad.get(name), 1e-5f, c + ": " + name);
                }
            }
        }
    }

    /** At μ = π_old (on-policy, same numerics) every correction is the uncorrected objective. */
    @Test
    void onPolicyTheCorrectionsChangeNothing() {
        int[] tokens = {4, 9, 13, 21, 8};
        boolean[] trainable = {false, false, true, true, true};
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 8, Device.cpu())) {
            float[] behaviour = logProbs(model, tokens);
            behaviour[0] = behaviour[1] = Float.NaN;
            List<TrainingSample> batch = List.of(new TrainingSample(tokens, trainable, behaviour, 0.7));
            double[][] agg = Objective.dapo().aggregation().weights(batch);
            Map<String, float[]> none = gradients(model, batch, agg, Objective.dapo());
            for (OffPolicyCorrection c : List.of(
                    OffPolicyCorrection.tokenTis(2),
                    OffPolicyCorrection.sequenceMis(0.5, 2),
                    OffPolicyCorrection.geometricMis(0.99, 1.01))) {
                Map<String, float[]> corrected =
                        gradients(model, batch, agg, Objective.dapo().withCorrection(c));
                String name = "model.layers.1.mlp.down_proj.weight";
                assertArrayEquals(none.get(name), corrected.get(name), 1e-5f, c.toString());
            }
        }
    }

    /** A later update of the same batch is anchored at the first update's log-probs, not at its own. */
    @Test
    void aLaterUpdateIsAnchoredAtTheFirstUpdatesLogProbs() {
        int[] tokens = {4, 9, 13, 21, 8};
        boolean[] trainable = {false, false, true, true, true};
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 9, Device.cpu())) {
            float[] current = logProbs(model, tokens);
            float[] behaviour = current.clone();
            behaviour[0] = behaviour[1] = Float.NaN;
            List<TrainingSample> batch = List.of(new TrainingSample(tokens, trainable, behaviour, 1.0));
            Objective pg = Objective.dapo().withCorrection(OffPolicyCorrection.tokenTis(2));
            // π_old 0.5 below π on every token: the ratio π/π_old is e^0.5 = 1.65, clipped at 1.28 for A > 0.
            float[][] proximal = {new float[5]};
            for (int t = 2; t < 5; t++) {
                proximal[0][t] = current[t] - 0.5f;
            }
            try (NDManager scope = model.manager().newSubManager()) {
                PolicyLoss.Result r = PolicyLoss.compute(
                        scope,
                        model,
                        TreeBatch.of(batch),
                        batch,
                        pg.aggregation().weights(batch),
                        pg,
                        null,
                        PolicyLoss.ATTENTION_ELEMENTS,
                        PolicyLoss.LOGIT_ELEMENTS,
                        proximal);
                assertEquals(Math.exp(0.5), r.meanRatio(), 1e-4);
                assertEquals(1.0, r.clippedFraction(), 1e-9);
                // w = min(π_old/μ, 2) = e^-0.5 on every token; loss = -Σ (1/3)·w·1.28·A
                assertEquals(-Math.exp(-0.5) * 1.28, r.loss().getFloat(), 1e-4);
                assertEquals(3, r.mismatch().tokens());
                assertTrue(
                        r.mismatch().tokenK1() > 0.49,
                        "μ is 0.5 above π_old: " + r.mismatch().tokenK1());
            }
        }
    }

    static float[] logProbs(DecoderModel model, int[] tokens) {
        float[] out = new float[tokens.length];
        try (NDManager scope = model.manager().newSubManager()) {
            int n = tokens.length - 1;
            int[] in = Arrays.copyOf(tokens, n);
            int[] targets = Arrays.copyOfRange(tokens, 1, tokens.length);
            float[] lp = model.tokenLogProbs(
                            scope,
                            new int[][] {in},
                            DecoderModel.positions(0, n),
                            DecoderModel.causal(0, n),
                            new int[][] {targets})
                    .toFloatArray();
            System.arraycopy(lp, 0, out, 1, n);
        }
        return out;
    }

    static Map<String, float[]> gradients(
            DecoderModel model, List<TrainingSample> batch, double[][] weights, Objective objective) {
        model.parameters().values().forEach(p -> p.setRequiresGradient(true));
        Map<String, float[]> out = new HashMap<>();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                NDManager scope = model.manager().newSubManager()) {
            Trainer.zeroGradients(List.of(model));
            PolicyLoss.compute(scope, model, TreeBatch.of(batch), batch, weights, objective, null)
                    .backward(gc);
            for (var e : model.parameters().entrySet()) {
                NDArray g = e.getValue().getGradient();
                out.put(e.getKey(), g.toFloatArray());
                g.close();
            }
        }
        return out;
    }
}
