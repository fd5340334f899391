package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Version after version of adapters on a served model, applied or merged, compute what the learner's do. */
class ServedAdaptersTest {

    static final ModelConfig C = DecoderModelTest.QWEN3;

    @Test
    void adapterVersionsAppliedOrMergedComputeTheirCheckpointsFunction() {
        try (DecoderModel base = DecoderModel.random(C, 1, Device.cpu());
                DecoderModel other = DecoderModel.random(C, 2, Device.cpu())) {
            // What the learner's checkpoints compute: v1 and v2 adapters on the base, then a full v3 (other's weights).
            LoraAdapters a1 = LoraAdapters.create(C, LoraSettings.of(4), 11, base.manager());
            LoraAdaptersTest.randomizeB(a1, 12);
            LoraAdapters a2 = LoraAdapters.create(C, LoraSettings.of(4), 13, base.manager());
            LoraAdaptersTest.randomizeB(a2, 14);
            base.attachAdapters(a1);
            float[] v1 = LoraAdaptersTest.logits(base);
            base.attachAdapters(a2);
            float[] v2 = LoraAdaptersTest.logits(base);
            base.attachAdapters(null);
            float[] v0 = LoraAdaptersTest.logits(base);
            float[] v3 = LoraAdaptersTest.logits(other);
            for (boolean merge : List.of(false, true)) {
                try (DecoderModel served = DecoderModel.random(C, 1, Device.cpu())) {
                    ServedAdapters adapters = new ServedAdapters(merge, 0);
                    adapters.install(served, 0, null, copy(a1, served));
                    assertClose(v1, LoraAdaptersTest.logits(served), merge + ": v1", 1e-5);
                    adapters.install(served, 0, null, copy(a2, served));
                    assertClose(v2, LoraAdaptersTest.logits(served), merge + ": v2 replaces v1", 1e-5);
                    assertEquals(!merge, served.adapters().isPresent(), "merged adapters are not applied per forward");
                    IllegalArgumentException e = assertThrows(
                            IllegalArgumentException.class, () -> adapters.install(served, 5, null, copy(a1, served)));
                    assertTrue(e.getMessage().contains("without those weights"), e.getMessage());
                    Map<String, NDArray> full = other.parameters();
                    adapters.install(served, 3, full, null);
                    assertArrayEquals(v3, LoraAdaptersTest.logits(served), merge + ": a full version replaces all");
                    assertEquals(3, adapters.weightsVersion());
                    adapters.install(served, 0, base.parameters(), null);
                    assertArrayEquals(v0, LoraAdaptersTest.logits(served), merge + ": back to the base");
                }
            }
        }
    }

    private static LoraAdapters copy(LoraAdapters a, DecoderModel owner) {
        return LoraAdapters.copyOf(C, a.settings(), a.parameters(), owner.manager());
    }

    private static void assertClose(float[] expected, float[] actual, String what, double tolerance) {
        double d = LoraAdaptersTest.maxDiff(expected, actual);
        assertTrue(d < tolerance, what + ": max difference " + d);
    }
}
