package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Pass-rate shaping on hand-computed groups, and in a trainer's step. */
class AdvantageShapingTest {

    // pass rates at threshold 1: A 2/4 (exploration e = 1), B 3/4 (e = 0.75), C 0/4 (e = 0); mean e = 7/12
    static final List<double[]> GROUPS =
            List.of(new double[] {1, 0, 1, 0}, new double[] {1, 1, 1, 0.5}, new double[] {0, 0, 0.3, 0});

    @Test
    void scalesFollowEachGroupsExplorationRelativeToTheStep() {
        assertArrayEquals(
                new double[] {12.0 / 7, 9.0 / 7, 0},
                AdvantageShaping.passRate(1.0, 1.0).scales(GROUPS),
                1e-12,
                "α = 1: e_g / mean e");
        double[] half = AdvantageShaping.passRate(1.0, 0.5).scales(GROUPS);
        assertArrayEquals(new double[] {0.5 + 6.0 / 7, 0.5 + 4.5 / 7, 0.5}, half, 1e-12, "α = ½: halfway to 1");
        assertEquals(1.0, Arrays.stream(half).average().orElseThrow(), 1e-12, "the mean scale stays 1");
        assertArrayEquals(new double[] {1, 1, 1}, AdvantageShaping.NONE.scales(GROUPS), "none: the estimator alone");
        assertArrayEquals(
                new double[] {1, 1},
                AdvantageShaping.passRate(1.0, 1.0).scales(List.of(new double[] {1, 1}, new double[] {0, 0.5})),
                "no group explores (all pass or all fail): nothing to tell them apart by");
        assertArrayEquals(
                new double[] {0.75 / 0.875, 1.0 / 0.875},
                AdvantageShaping.passRate(0.5, 1.0)
                        .scales(List.of(new double[] {1, 1, 1, 0}, new double[] {1, 0.5, 0, 0.2})),
                1e-12,
                "the threshold decides what passes: 0.5 passes at 0.5");
    }

    @Test
    void aTrainersStepScalesEachGroupsAdvantages() {
        ModelConfig config = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
        List<double[]> rewards = List.of(new double[] {1, 0, 1, 0}, new double[] {0, 0, 0.3, 0});
        double plain = meanAbsAdvantage(config, rewards, AdvantageShaping.NONE);
        double shaped = meanAbsAdvantage(config, rewards, AdvantageShaping.passRate(1.0, 1.0));
        // GRPO: group A's |A| = 0.5 / 0.57735 = 0.866 each, group C's 0.5, 0.5, 1.5, 0.5 (std 0.15). Shaped: A's e = 1,
        // C's 0, mean 0.5: A doubled, C zero.
        assertEquals((4 * 0.8660254 + 3.0) / 8, plain, 1e-4);
        assertEquals(4 * 2 * 0.8660254 / 8, shaped, 1e-4);
    }

    static double meanAbsAdvantage(ModelConfig config, List<double[]> rewards, AdvantageShaping shaping) {
        try (DecoderModel model = DecoderModel.random(config, 3, Device.cpu())) {
            Trainer trainer = new Trainer(
                            model,
                            new AdamW(model.parameters(), AdamW.Settings.defaults(1e-3)),
                            Objective.dapo(),
                            AdvantageEstimator.GRPO,
                            null)
                    .advantageShaping(shaping);
            List<List<TrainingSample>> groups = new ArrayList<>();
            for (double[] r : rewards) {
                List<TrainingSample> members = new ArrayList<>();
                for (int i = 0; i < r.length; i++) {
                    members.add(new TrainingSample(
                            new int[] {5, 6, 7 + i, 8},
                            new boolean[] {false, false, true, true},
                            new float[] {Float.NaN, Float.NaN, -4.5f, -4.5f},
                            0));
                }
                groups.add(members);
            }
            return trainer.step(groups, rewards).meanAdvantageAbs();
        }
    }

    @Test
    void aStageNamesItsShaping() throws Exception {
        ObjectMapper json = new ObjectMapper();
        assertEquals(AdvantageShaping.NONE, AdvantageShaping.parse(null, "s"));
        assertEquals(
                AdvantageShaping.passRate(0.9, 0.5),
                AdvantageShaping.parse(
                        json.readTree("{\"kind\":\"pass_rate\",\"threshold\":0.9,\"strength\":0.5}"), "s"));
        for (String bad : List.of("{\"kind\":\"entropy\"}", "{\"kind\":\"pass_rate\",\"strength\":2}")) {
            IllegalArgumentException e = assertThrows(
                    IllegalArgumentException.class, () -> AdvantageShaping.parse(json.readTree(bad), "stage 'rft'"));
            assertTrue(e.getMessage().startsWith("stage 'rft': advantage_shaping"), e.getMessage());
        }
    }
}
