package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class AdvantageEstimatorTest {

    static final double[] REWARDS = {1, 0, 0, 1};

    @Test
    void grpoNormalisesByTheGroupsSampleStd() {
        // mean 0.5; sample std sqrt((4 * 0.25) / 3) = 0.57735
        double a = 0.5 / (Math.sqrt(1.0 / 3) + 1e-6);
        assertArrayEquals(new double[] {a, -a, -a, a}, AdvantageEstimator.GRPO.compute(REWARDS), 1e-12);
    }

    @Test
    void drGrpoOnlyCentres() {
        assertArrayEquals(new double[] {0.5, -0.5, -0.5, 0.5}, AdvantageEstimator.DR_GRPO.compute(REWARDS), 1e-12);
    }

    @Test
    void rlooLeavesOneOut() {
        // r_0 - mean(0, 0, 1) = 1 - 1/3 ; r_1 - mean(1, 0, 1) = -2/3
        assertArrayEquals(
                new double[] {2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3}, AdvantageEstimator.RLOO.compute(REWARDS), 1e-12);
        assertArrayEquals(
                new double[] {1 - 2.5, 2 - 2.0, 3 - 1.5},
                AdvantageEstimator.RLOO.compute(new double[] {1, 2, 3}),
                1e-12);
    }

    @Test
    void dynamicSamplingSkipsGroupsWithoutVariance() {
        assertFalse(AdvantageEstimator.hasSignal(new double[] {1, 1, 1}));
        assertTrue(AdvantageEstimator.hasSignal(new double[] {1, 1, 0.5}));
        assertArrayEquals(new double[] {0, 0, 0}, AdvantageEstimator.GRPO.compute(new double[] {1, 1, 1}), 1e-12);
    }

    @Test
    void aggregationsWeighTokensAsDocumented() {
        TrainingSample two = sample(3); // 2 trainable tokens
        TrainingSample four = sample(5); // 4 trainable tokens
        List<TrainingSample> batch = List.of(two, four);
        assertEquals(1.0 / 6, LossAggregation.TOKEN_MEAN.weights(batch)[0][1], 1e-12);
        assertEquals(1.0 / (2 * 2), LossAggregation.SEQUENCE_MEAN.weights(batch)[0][1], 1e-12);
        assertEquals(1.0 / (2 * 4), LossAggregation.SEQUENCE_MEAN.weights(batch)[1][1], 1e-12);
        assertEquals(1.0 / (2 * 4), LossAggregation.CONSTANT.weights(batch)[0][1], 1e-12);
        assertEquals(0, LossAggregation.TOKEN_MEAN.weights(batch)[0][0], "token 0 has no loss term");
    }

    static TrainingSample sample(int n) {
        int[] ids = new int[n];
        boolean[] trainable = new boolean[n];
        float[] lp = new float[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 5 + i;
            trainable[i] = i > 0;
            lp[i] = Float.NaN;
        }
        return new TrainingSample(ids, trainable, lp, 1);
    }
}
