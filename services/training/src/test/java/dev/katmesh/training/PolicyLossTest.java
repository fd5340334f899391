package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The objectives against values computed by hand from the model's own log-probs. */
class PolicyLossTest {

    @Test
    void objectivesMatchHandComputedValues() {
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 5, Device.cpu())) {
            int[] tokens = {4, 9, 13, 21, 8};
            boolean[] trainable = {false, false, true, true, true};
            float[] current = new float[5];
            try (NDManager scope = model.manager().newSubManager()) {
                float[] lp = model.tokenLogProbs(
                                scope,
                                new int[][] {{4, 9, 13, 21}},
                                DecoderModel.positions(0, 4),
                                DecoderModel.causal(0, 4),
                                new int[][] {{9, 13, 21, 8}})
                        .toFloatArray();
                System.arraycopy(lp, 0, current, 1, 4);
            }
            // Behaviour log-probs chosen so that token 2's ratio is 1.5 (clipped above), token 3's is 0.5
            // (clipped below) and token 4's is 1.1 (inside).
            float[] behaviour = {
                Float.NaN,
                Float.NaN,
                current[2] - (float) Math.log(1.5),
                current[3] - (float) Math.log(0.5),
                current[4] - (float) Math.log(1.1)
            };
            double advantage = 2.0;
            TrainingSample s = new TrainingSample(tokens, trainable, behaviour, advantage);
            List<TrainingSample> batch = List.of(s);
            double w = 1.0 / 3;

            double sft = -w * (current[2] + current[3] + current[4]);
            assertEquals(sft, loss(model, batch, Objective.sft()), 1e-5, "SFT = mean NLL of trainable tokens");

            Objective pg = new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.28, 0, LossAggregation.TOKEN_MEAN);
            // A > 0: min(r A, clip(r) A): 1.5 -> 1.28, 0.5 -> 0.5 (unclipped is smaller), 1.1 -> 1.1
            double expected = -w * advantage * (1.28 + 0.5 + 1.1);
            assertEquals(expected, loss(model, batch, pg), 1e-4, "clipped policy gradient with clip-higher");

            TrainingSample negative = new TrainingSample(tokens, trainable, behaviour, -advantage);
            // A < 0: 1.5 -> r A = -3 (smaller than clip -2.56), 0.5 -> clip 0.8 A = -1.6, 1.1 -> -2.2
            double expectedNeg = -w * (-advantage) * (1.5 + 0.8 + 1.1);
            assertEquals(expectedNeg, loss(model, List.of(negative), pg), 1e-4, "negative advantages clip from below");

            TrainingSample onPolicy = new TrainingSample(
                    tokens, trainable, new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN, Float.NaN}, advantage);
            assertEquals(
                    -w * advantage * 3,
                    loss(model, List.of(onPolicy), pg),
                    1e-5,
                    "unknown behaviour log-probs: ratio 1");
        }
    }

    @Test
    void thePolicyGradientScoresTokensAtTheTemperatureTheyWereSampledAt() {
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 6, Device.cpu())) {
            int[] tokens = {4, 9, 13, 21, 8};
            boolean[] trainable = {false, false, true, true, true};
            float temperature = 0.7f;
            // The behaviour log-probs the sampler reports at T = 0.7: log_softmax(logits / T) of each drawn token.
            float[] behaviour = new float[5];
            behaviour[0] = behaviour[1] = Float.NaN;
            try (NDManager scope = model.manager().newSubManager()) {
                NDArray logits = model.logits(
                        scope,
                        model.hidden(
                                        scope,
                                        new int[][] {{4, 9, 13, 21}},
                                        DecoderModel.positions(0, 4),
                                        DecoderModel.causal(0, 4),
                                        null)
                                .reshape(4, -1));
                float[] lp = logits.div(temperature).logSoftmax(-1).toFloatArray();
                int vocab = model.config().vocabSize();
                for (int t = 2; t < 5; t++) {
                    behaviour[t] = lp[(t - 1) * vocab + tokens[t]];
                }
            }
            List<TrainingSample> batch = List.of(new TrainingSample(tokens, trainable, behaviour, 1.0));
            Objective pg = Objective.dapo().withTemperature(temperature);
            try (NDManager scope = model.manager().newSubManager()) {
                PolicyLoss.Result r = PolicyLoss.compute(
                        scope,
                        model,
                        TreeBatch.of(batch),
                        batch,
                        pg.aggregation().weights(batch),
                        pg,
                        null);
                assertEquals(1.0, r.meanRatio(), 1e-4, "same weights, same temperature: every ratio is 1");
                assertEquals(0.0, r.clippedFraction(), 1e-9);
            }
            try (NDManager scope = model.manager().newSubManager()) {
                PolicyLoss.Result r = PolicyLoss.compute(
                        scope,
                        model,
                        TreeBatch.of(batch),
                        batch,
                        Objective.dapo().aggregation().weights(batch),
                        Objective.dapo(),
                        null);
                assertTrue(
                        Math.abs(r.meanRatio() - 1.0) > 1e-3, "scored at T = 1 the ratios are off: " + r.meanRatio());
            }
        }
    }

    @Test
    void klToAnIdenticalReferenceIsZeroAndPositiveOtherwise() {
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 5, Device.cpu());
                DecoderModel same = DecoderModel.random(TreeTrainingTest.CONFIG, 5, Device.cpu());
                DecoderModel other = DecoderModel.random(TreeTrainingTest.CONFIG, 6, Device.cpu())) {
            TrainingSample s = new TrainingSample(
                    new int[] {4, 9, 13, 21},
                    new boolean[] {false, true, true, true},
                    new float[] {Float.NaN, Float.NaN, Float.NaN, Float.NaN},
                    0.0);
            Objective klOnly = new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.2, 1.0, LossAggregation.TOKEN_MEAN);
            assertEquals(0, lossWith(model, List.of(s), klOnly, same), 1e-6);
            assertTrue(lossWith(model, List.of(s), klOnly, other) > 1e-4);
        }
    }

    @Test
    void adamWLowersTheLossOfWhatItTrainsOn() {
        try (DecoderModel model = DecoderModel.random(TreeTrainingTest.CONFIG, 5, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            AdamW opt = new AdamW(model.parameters(), AdamW.Settings.defaults(3e-3));
            List<TrainingSample> batch = TreeTrainingTest.branchingSamples(3, 4);
            double[][] w = LossAggregation.TOKEN_MEAN.weights(batch);
            TreeBatch tree = TreeBatch.of(batch);
            double first = 0;
            double last = 0;
            for (int step = 0; step < 30; step++) {
                try (NDManager scope = model.manager().newSubManager();
                        GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.zeroGradients();
                    NDArray loss = PolicyLoss.compute(scope, model, tree, batch, w, Objective.sft(), null)
                            .loss();
                    last = loss.getFloat();
                    if (step == 0) {
                        first = last;
                    }
                    gc.backward(loss);
                }
                opt.update(1.0);
            }
            assertEquals(30, opt.step());
            assertTrue(last < first * 0.7, "SFT loss falls: " + first + " -> " + last);
        }
    }

    static double loss(DecoderModel model, List<TrainingSample> batch, Objective objective) {
        return lossWith(model, batch, objective, null);
    }

    static double lossWith(
            DecoderModel model, List<TrainingSample> batch, Objective objective, DecoderModel reference) {
        try (NDManager scope = model.manager().newSubManager()) {
            return PolicyLoss.compute(
                            scope,
                            model,
                            TreeBatch.of(batch),
                            batch,
                            objective.aggregation().weights(batch),
                            objective,
                            reference)
                    .loss()
                    .getFloat();
        }
    }
}
