package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRA adapters applied in the forward, merged into the weights, and kept as PEFT adapter folders. */
class LoraAdaptersTest {

    static final int[] IDS = {5, 17, 3, 42, 9, 11, 2, 30};

    @TempDir
    Path tmp;

    /** Gives every B random values (fresh adapters have B = 0 and change nothing). */
    static void randomizeB(LoraAdapters adapters, long seed) {
        Random r = new Random(seed);
        adapters.parameters().forEach((name, a) -> {
            if (name.endsWith("lora_B.weight")) {
                float[] v = new float[(int) a.size()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (r.nextGaussian() * 0.05);
                }
                Tensors.assign(a, v);
            }
        });
    }

    static float[] logits(DecoderModel m) {
        try (var scope = m.manager().newSubManager()) {
            return m.forward(
                            scope,
                            new int[][] {IDS},
                            DecoderModel.positions(0, IDS.length),
                            DecoderModel.causal(0, IDS.length),
                            null)
                    .toFloatArray();
        }
    }

    static double maxDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    @Test
    void aSnapshotComputesAsItsModelDidWhenTakenAndNotAsItTrainsOn() {
        try (DecoderModel m = DecoderModel.random(DecoderModelTest.QWEN3, 7, Device.cpu())) {
            LoraAdapters adapters = LoraAdapters.create(DecoderModelTest.QWEN3, LoraSettings.of(4), 1, m.manager());
            m.attachAdapters(adapters);
            randomizeB(adapters, 2);
            m.trainableParameters().values().forEach(p -> p.setRequiresGradient(true)); // as a training step has them
            float[] before = logits(m);
            try (DecoderModel snapshot = m.snapshot()) {
                assertTrue(snapshot.adapters().isPresent(), "the adapters are copied with the weights");
                assertArrayEquals(before, logits(snapshot), "the snapshot computes as the model did");
                snapshot.parameters().values().forEach(p -> assertFalse(p.hasGradient(), "no autograd in a copy"));
                snapshot.trainableParameters()
                        .values()
                        .forEach(p -> assertFalse(p.hasGradient(), "no autograd in a copy"));
                randomizeB(adapters, 3); // the model trains on
                m.parameters().get("model.norm.weight").muli(2f);
                assertTrue(maxDiff(before, logits(m)) > 1e-3, "the model moved");
                assertArrayEquals(before, logits(snapshot), "the snapshot did not");
            }
            assertTrue(maxDiff(before, logits(m)) > 1e-3, "closing the snapshot leaves the model's memory alone");
        }
    }

    @Test
    void freshAdaptersLeaveTheModelAsItsBaseAndTrainedOnesEqualTheirMergedWeights() {
        for (ModelConfig c : List.of(DecoderModelTest.QWEN3, DecoderModelTest.QWEN2)) {
            try (DecoderModel m = DecoderModel.random(c, 7, Device.cpu())) {
                float[] base = logits(m);
                Map<String, float[]> weights = new LinkedHashMap<>();
                m.parameters().forEach((n, p) -> weights.put(n, p.toFloatArray()));
                LoraAdapters fresh = LoraAdapters.create(c, LoraSettings.of(4), 1, m.manager());
                m.attachAdapters(fresh);
                assertArrayEquals(base, logits(m), c.architecture() + ": B = 0 leaves the base's logits");
                randomizeB(fresh, 2);
                float[] adapted = logits(m);
                assertTrue(maxDiff(base, adapted) > 1e-3, "trained adapters change the logits");
                LoraAdapters merged = m.mergeAdapters();
                assertTrue(m.adapters().isEmpty(), "merging detaches them");
                assertTrue(
                        maxDiff(adapted, logits(m)) < 1e-5,
                        "merged weights compute what the adapters did: " + maxDiff(adapted, logits(m)));
                m.unmerge(merged);
                m.parameters()
                        .forEach((n, p) -> assertTrue(
                                maxDiff(weights.get(n), p.toFloatArray()) < 1e-6, n + " is back after unmerging"));
                merged.close();
            }
        }
    }

    @Test
    void adaptersCoverTheProjectionsTheyTargetWithPeftShapes() {
        ModelConfig c = DecoderModelTest.QWEN3;
        Map<String, long[]> all = LoraAdapters.shapes(c, LoraSettings.of(4));
        assertEquals(2 * 7 * c.numLayers(), all.size(), "A and B on 7 projections per layer: " + all.keySet());
        assertArrayEquals(
                new long[] {4, c.hiddenSize()},
                all.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
        assertArrayEquals(
                new long[] {c.hiddenSize(), 4}, all.get("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
        Map<String, long[]> attention = LoraAdapters.shapes(c, new LoraSettings(8, 16, List.of("q_proj", "v_proj")));
        assertEquals(2 * 2 * c.numLayers(), attention.size(), attention.keySet().toString());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class, () -> new LoraSettings(8, 16, List.of("q_proj", "lm_head")));
        assertTrue(e.getMessage().contains("unknown LoRA target 'lm_head'"), e.getMessage());
    }

    @Test
    void aSavedAdapterIsAPeftFolderThatLoadsBitExact() throws IOException {
        ModelConfig c = DecoderModelTest.QWEN2;
        try (DecoderModel m = DecoderModel.random(c, 7, Device.cpu())) {
            LoraAdapters adapters =
                    LoraAdapters.create(c, new LoraSettings(4, 8, List.of("q_proj", "up_proj")), 3, m.manager());
            randomizeB(adapters, 4);
            Path dir = tmp.resolve("adapter");
            String sha = adapters.save(dir, "Qwen/Qwen2.5-0.5B");
            JsonNode config = new ObjectMapper()
                    .readTree(dir.resolve("adapter_config.json").toFile());
            assertEquals("LORA", config.path("peft_type").asText());
            assertEquals(4, config.path("r").asInt());
            assertEquals(8.0, config.path("lora_alpha").asDouble());
            assertEquals(
                    "Qwen/Qwen2.5-0.5B", config.path("base_model_name_or_path").asText());
            assertEquals(64, sha.length());
            try (LoraAdapters back = LoraAdapters.load(dir, c, m.manager())) {
                assertEquals(adapters.settings(), back.settings());
                adapters.parameters()
                        .forEach((n, a) -> assertArrayEquals(
                                a.toFloatArray(), back.parameters().get(n).toFloatArray(), n + " is bit-exact"));
                m.attachAdapters(adapters);
                float[] before = logits(m);
                m.attachAdapters(back);
                assertArrayEquals(before, logits(m), "the loaded adapter computes the same logits");
                m.attachAdapters(null);
            }
            adapters.close();
        }
    }

    @Test
    void aMalformedAdapterFolderIsRefusedNamingWhatIsWrong() throws IOException {
        ModelConfig c = DecoderModelTest.QWEN3;
        try (DecoderModel m = DecoderModel.random(c, 7, Device.cpu());
                LoraAdapters adapters = LoraAdapters.create(c, LoraSettings.of(4), 3, m.manager())) {
            Path dir = tmp.resolve("a");
            adapters.save(dir, "base");
            Path other = tmp.resolve("b");
            Files.createDirectories(other);
            assertRefused(other, c, m, "missing adapter_config.json");
            Files.copy(dir.resolve("adapter_config.json"), other.resolve("adapter_config.json"));
            assertRefused(other, c, m, "missing adapter_model.safetensors");
            // Rank 8 declared, rank-4 tensors stored.
            Files.writeString(
                    other.resolve("adapter_config.json"),
                    Files.readString(dir.resolve("adapter_config.json")).replace("\"r\" : 4", "\"r\" : 8"));
            Files.copy(dir.resolve("adapter_model.safetensors"), other.resolve("adapter_model.safetensors"));
            assertRefused(other, c, m, "shape mismatch for 'base_model.model.model.layers.0.self_attn.q_proj.lora_A");
            Files.writeString(
                    other.resolve("adapter_config.json"),
                    Files.readString(dir.resolve("adapter_config.json"))
                            .replace("\"use_rslora\" : false", "\"use_rslora\" : true"));
            assertRefused(other, c, m, "rsLoRA and DoRA adapters are not supported");
            // Adapters of a model with another hidden size.
            ModelConfig wider = ModelConfig.qwen3(
                    c.vocabSize(),
                    2 * c.hiddenSize(),
                    c.intermediateSize(),
                    c.numLayers(),
                    c.numHeads(),
                    c.numKvHeads(),
                    c.headDim());
            CheckpointException e =
                    assertThrows(CheckpointException.class, () -> LoraAdapters.load(dir, wider, m.manager()));
            assertTrue(e.getMessage().contains("shape mismatch"), e.getMessage());
        }
    }

    private static void assertRefused(Path dir, ModelConfig c, DecoderModel m, String expected) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> LoraAdapters.load(dir, c, m.manager()));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void adaptersAreTrainedAloneWithTheBaseFrozen() {
        ModelConfig c = DecoderModelTest.QWEN3;
        try (DecoderModel m = DecoderModel.random(c, 7, Device.cpu())) {
            assertEquals(m.parameters(), m.trainableParameters(), "without adapters every weight trains");
            LoraAdapters adapters = LoraAdapters.create(c, LoraSettings.of(2), 1, m.manager());
            m.attachAdapters(adapters);
            assertEquals(adapters.parameters(), m.trainableParameters(), "with adapters only they train");
            long base =
                    m.parameters().values().stream().mapToLong(NDArray::size).sum();
            assertTrue(adapters.size() < base / 5, adapters.size() + " adapter elements against " + base);
        }
    }
}
