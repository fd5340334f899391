package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.policy.ModelConfig;
import org.junit.jupiter.api.Test;

/** When a tree is trained in checkpointed pieces: by its attention scores or by all the activations it would keep. */
class CheckpointedForwardTest {

    private static final ModelConfig QWEN3_06B = ModelConfig.qwen3(151_936, 1024, 3072, 28, 16, 8, 128);
    private static final ModelConfig DEMO = ModelConfig.qwen3(2048, 128, 352, 4, 4, 2, 32);

    @Test
    void aLargeModelGoesToPiecesByItsActivationsLongBeforeItsAttentionFillsTheBudget() {
        long budget = PolicyLoss.ATTENTION_ELEMENTS;
        // 16 heads × 512² = 4M scores fit the attention budget, but 28 layers keep gigabytes of activations.
        assertTrue(16L * 512 * 512 < budget);
        double gb = CheckpointedForward.plainActivationBytes(QWEN3_06B, 512) / 1e9;
        assertTrue(gb > 5 && gb < 8, "the measured 6-8 GB of a plain 512-row step at the 0.6B shape, estimated " + gb);
        assertTrue(CheckpointedForward.needed(QWEN3_06B, 512, budget), "512 rows of the 0.6B shape go in pieces");
        assertFalse(CheckpointedForward.needed(QWEN3_06B, 64, budget), "64 rows keep well under 1 GB: plain");
    }

    @Test
    void theDemosSmallModelIsStillChosenByItsAttentionAlone() {
        long budget = PolicyLoss.ATTENTION_ELEMENTS;
        // 4 heads: the attention budget is reached at 1 448 rows, before the activations' budget.
        assertFalse(CheckpointedForward.needed(DEMO, 1448, budget));
        assertTrue(CheckpointedForward.needed(DEMO, 1449, budget));
        assertTrue(CheckpointedForward.plainActivationBytes(DEMO, 1448) < PolicyLoss.ACTIVATION_BYTES);
    }

    @Test
    void theEstimateGrowsWithLayersAndQuadraticallyWithRows() {
        long one = CheckpointedForward.plainActivationBytes(QWEN3_06B, 100);
        long two = CheckpointedForward.plainActivationBytes(QWEN3_06B, 200);
        // perRow = 65 536 + 96·rows floats: doubling the rows more than doubles the bytes, by the scores' term.
        assertEquals(4L * 28 * 100 * (65_536 + 96 * 100), one);
        assertTrue(two > 2 * one);
    }
}
