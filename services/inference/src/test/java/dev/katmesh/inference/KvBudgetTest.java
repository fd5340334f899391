package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.katmesh.policy.ModelConfig;
import org.junit.jupiter.api.Test;

class KvBudgetTest {

    /** Qwen3-0.6B's attention: 28 layers, 8 KV heads of 128. */
    static final ModelConfig QWEN3_06B = ModelConfig.qwen3(151_936, 1024, 3072, 28, 16, 8, 128);

    @Test
    void aRealCheckpointsBudgetIsItsMemoryNotATokenCount() {
        KvBudget b = KvBudget.of(QWEN3_06B, 2L << 30, 65_536);
        assertEquals(2L * 28 * 8 * 128 * 4, b.bytesPerToken(), "keys and values of every layer, f32");
        assertEquals(
                8_321,
                b.tokens(),
                "2 GiB holds 9 362 tokens of Qwen3-0.6B's cache, less a ninth of room to grow: not 65 536");
        KvBudget tiny = KvBudget.of(ModelConfig.qwen3(512, 32, 64, 2, 4, 2, 8), 2L << 30, 65_536);
        assertEquals(65_536, tiny.tokens(), "a tiny model keeps max-batch-tokens");
        assertThrows(IllegalStateException.class, () -> KvBudget.of(QWEN3_06B, 1000, 65_536));
    }
}
