package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @TempDir
    Path tmp;

    @Test
    void aSavedModelLoadsBitExactWithItsOptimizerState() throws IOException {
        for (ModelConfig c : List.of(DecoderModelTest.QWEN3, DecoderModelTest.QWEN2)) {
            Path dir = tmp.resolve(c.architecture());
            try (DecoderModel m = DecoderModel.random(c, 21, Device.cpu())) {
                Checkpoints.saveModel(m, dir, Fixture.DIR);
                Map<String, NDArray> state = new LinkedHashMap<>();
                m.parameters().forEach((name, p) -> state.put("exp_avg/" + name, p.mul(0.5f)));
                Checkpoints.saveOptimizer(dir, 123, state);
                assertEquals(c, ModelConfig.read(dir.resolve("config.json")), "config.json round trip");
                try (DecoderModel back =
                        DecoderModel.load(dir, ModelConfig.read(dir.resolve("config.json")), Device.cpu())) {
                    m.parameters()
                            .forEach((name, p) -> assertArrayEquals(
                                    p.toFloatArray(),
                                    back.parameters().get(name).toFloatArray(),
                                    name + " is bit-exact"));
                }
                Checkpoints.OptimizerState opt = Checkpoints.loadOptimizer(dir);
                assertEquals(123, opt.step());
                state.forEach((name, a) -> {
                    float[] back = new float[(int) a.size()];
                    opt.tensors()
                            .get(name)
                            .duplicate()
                            .order(ByteOrder.LITTLE_ENDIAN)
                            .asFloatBuffer()
                            .get(back);
                    assertArrayEquals(a.toFloatArray(), back, name);
                });
                assertTrue(Files.exists(dir.resolve("tokenizer.json")), "tokenizer files travel with the checkpoint");
            }
        }
    }

    /**
     * Loaded weights are the engine's own memory, not views of the file's mapping: the mapping is unmapped when its
     * buffer is collected, and a float32 weight that still pointed into it crashed the process at its next use
     * (toType to the same type is no copy).
     */
    @Test
    void loadedWeightsOutliveTheFilesMapping() throws Exception {
        Path dir = tmp.resolve("unmapped");
        try (DecoderModel m = DecoderModel.random(DecoderModelTest.QWEN3, 9, Device.cpu())) {
            Checkpoints.saveModel(m, dir, null);
            try (DecoderModel back = DecoderModel.load(dir, DecoderModelTest.QWEN3, Device.cpu())) {
                for (int i = 0; i < 5; i++) {
                    System.gc(); // collects the mapped buffers, which unmaps them
                    Thread.sleep(20);
                }
                Files.delete(dir.resolve(Checkpoints.MODEL_FILE));
                back.parameters().forEach((name, p) -> p.muli(1f)); // touches every weight in place
                m.parameters()
                        .forEach((name, p) -> assertArrayEquals(
                                p.toFloatArray(), back.parameters().get(name).toFloatArray(), name));
            }
        }
    }

    @Test
    void theWeightsAreHashedAsWrittenAndMappedAsTheStreamSendsThem() throws Exception {
        Path dir = tmp.resolve("hashed");
        try (DecoderModel m = DecoderModel.random(DecoderModelTest.QWEN3, 8, Device.cpu())) {
            String sha = Checkpoints.saveModel(m, dir, null);
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            Map<String, SafeTensors.Tensor> read = SafeTensors.read(dir.resolve(Checkpoints.MODEL_FILE));
            List<SafeTensors.Slot> mapped = Checkpoints.mappedWeights(dir);
            assertEquals(
                    List.copyOf(read.keySet()),
                    mapped.stream().map(SafeTensors.Slot::name).toList(),
                    "file order");
            for (SafeTensors.Slot s : mapped) {
                md.update(s.bytes().duplicate());
                float[] f = new float[s.bytes().remaining() / 4];
                s.bytes()
                        .duplicate()
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer()
                        .get(f);
                assertArrayEquals(read.get(s.name()).data(), f, s.name() + ": the mapped bytes are the tensor's");
                assertArrayEquals(read.get(s.name()).shape(), s.shape(), s.name());
            }
            assertEquals(HexFormat.of().formatHex(md.digest()), sha, "the hash taken while writing is the data's");
        }
        Map<String, SafeTensors.Tensor> one =
                Map.of("w", new SafeTensors.Tensor(new long[] {1}, new float[] {1}, "F32"));
        Path other = tmp.resolve("other");
        Files.createDirectories(other);
        SafeTensors.write(other.resolve(Checkpoints.MODEL_FILE), one, Map.of());
        assertEquals(1, Checkpoints.mappedWeights(other).size());
        Files.write(other.resolve(Checkpoints.MODEL_FILE), new byte[] {1, 2, 3});
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.mappedWeights(other));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void theSameConfigAndSeedGiveTheSameModel() {
        try (DecoderModel a = DecoderModel.random(DecoderModelTest.QWEN3, 5, Device.cpu());
                DecoderModel b = DecoderModel.random(DecoderModelTest.QWEN3, 5, Device.cpu());
                DecoderModel c = DecoderModel.random(DecoderModelTest.QWEN3, 6, Device.cpu())) {
            String name = "model.layers.1.mlp.up_proj.weight";
            assertArrayEquals(
                    a.parameters().get(name).toFloatArray(),
                    b.parameters().get(name).toFloatArray());
            assertTrue(Fixture.maxAbsDiff(
                            a.parameters().get(name).toFloatArray(),
                            c.parameters().get(name).toFloatArray())
                    > 0);
            assertEquals(
                    DecoderModelTest.QWEN3.parameterCount(),
                    a.parameters().values().stream()
                            .mapToLong(p -> p.getShape().size())
                            .sum(),
                    "parameterCount()");
        }
    }

    @Test
    void shardedCheckpointsLoad() throws IOException {
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        try (DecoderModel m = DecoderModel.random(DecoderModelTest.QWEN3, 2, Device.cpu())) {
            Map<String, SafeTensors.Tensor> all = m.toTensors();
            Map<String, SafeTensors.Tensor> first = new LinkedHashMap<>();
            Map<String, SafeTensors.Tensor> second = new LinkedHashMap<>();
            StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
            int i = 0;
            for (var e : all.entrySet()) {
                String shard = i++ % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
                (shard.contains("00001-of") ? first : second).put(e.getKey(), e.getValue());
                index.append(i > 1 ? "," : "")
                        .append('"')
                        .append(e.getKey())
                        .append("\":\"")
                        .append(shard)
                        .append('"');
            }
            SafeTensors.write(dir.resolve("model-00001-of-00002.safetensors"), first, Map.of());
            SafeTensors.write(dir.resolve("model-00002-of-00002.safetensors"), second, Map.of());
            Files.writeString(
                    dir.resolve("model.safetensors.index.json"),
                    index.append("}}").toString());
            try (DecoderModel back = DecoderModel.load(dir, m.config(), Device.cpu())) {
                m.parameters()
                        .forEach((name, p) -> assertArrayEquals(
                                p.toFloatArray(), back.parameters().get(name).toFloatArray(), name));
            }
        }
    }

    @Test
    void aBadFolderFailsNamingTheFileAndProblem() throws IOException {
        Path missingConfig = copyFixture("no-config");
        Files.delete(missingConfig.resolve("config.json"));
        assertMessage(missingConfig, "config.json", "missing config.json");

        Path unknownArch = copyFixture("llama");
        Files.writeString(
                unknownArch.resolve("config.json"),
                Files.readString(unknownArch.resolve("config.json"))
                        .replace("Qwen3ForCausalLM", "LlamaForCausalLM")
                        .replace("\"qwen3\"", "\"llama\""));
        assertMessage(unknownArch, "config.json", "unsupported architecture 'LlamaForCausalLM'");

        Path wrongShape = copyFixture("wrong-shape");
        Files.writeString(
                wrongShape.resolve("config.json"),
                Files.readString(wrongShape.resolve("config.json"))
                        .replace("\"intermediate_size\": 176", "\"intermediate_size\": 128"));
        assertMessage(wrongShape, "model.safetensors", "shape mismatch for 'model.layers.0.mlp.gate_proj.weight'");

        Path truncated = copyFixture("truncated");
        byte[] bytes = Files.readAllBytes(truncated.resolve("model.safetensors"));
        Files.write(truncated.resolve("model.safetensors"), Arrays.copyOf(bytes, bytes.length / 2));
        assertMessage(truncated, "model.safetensors", "truncated safetensors");

        Path noTokenizer = copyFixture("no-tokenizer");
        Files.delete(noTokenizer.resolve("tokenizer.json"));
        assertMessage(noTokenizer, "tokenizer.json", "missing tokenizer.json");

        Path missingShard = copyFixture("missing-shard");
        Files.delete(missingShard.resolve("model.safetensors"));
        Files.writeString(
                missingShard.resolve("model.safetensors.index.json"),
                "{\"weight_map\":{\"model.norm.weight\":\"model-00002-of-00002.safetensors\"}}");
        assertMessage(missingShard, "model-00002-of-00002.safetensors", "missing shard named in");

        Path intWeights = copyFixture("int-weights");
        Map<String, long[]> shapes = DecoderModel.parameterShapes(ModelConfig.read(intWeights.resolve("config.json")));
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (var e : shapes.entrySet()) {
            long size = 4 * Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
            header.append(offset == 0 ? "" : ",")
                    .append('"')
                    .append(e.getKey())
                    .append("\":{\"dtype\":\"I32\",\"shape\":")
                    .append(Arrays.toString(e.getValue()).replace(" ", ""))
                    .append(",\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + size)
                    .append("]}");
            offset += size;
        }
        byte[] head = header.append('}').toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer file = ByteBuffer.allocate((int) (8 + head.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(head.length).put(head);
        Files.write(intWeights.resolve("model.safetensors"), file.array());
        assertMessage(intWeights, "model.safetensors", "has dtype I32; weights must be F32, BF16 or F16");

        CheckpointException tooBig = assertThrows(
                CheckpointException.class,
                () -> MemoryBudget.require(
                        tmp, ModelConfig.read(intWeights.resolve("config.json")), OptionalLong.of(1_000)),
                "a model larger than the memory left is refused before loading");
        assertTrue(
                tooBig.getMessage().contains("for its float32 weights but this process may use only 0.00 GB"),
                tooBig.getMessage());

        Path noWeights = copyFixture("no-weights");
        Files.delete(noWeights.resolve("model.safetensors"));
        assertMessage(noWeights, "no-weights", "missing model.safetensors");
    }

    @Test
    void bf16AndF16WeightsAreReadIntoFloat() throws IOException {
        Path f = tmp.resolve("mixed.safetensors");
        String header = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length() + 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        buf.putShort((short) 0x3F80).putShort((short) 0xC040); // bf16 1.0, -3.0
        buf.putShort((short) 0x3800).putShort((short) 0x4500); // f16 0.5, 5.0
        Files.write(f, buf.array());
        Map<String, SafeTensors.Tensor> t = SafeTensors.read(f);
        assertArrayEquals(new float[] {1f, -3f}, t.get("a").data());
        assertArrayEquals(new float[] {0.5f, 5f}, t.get("b").data());
    }

    @Test
    void halfPrecisionDecodes() {
        assertEquals(1.0f, SafeTensors.halfToFloat((short) 0x3C00));
        assertEquals(-2.0f, SafeTensors.halfToFloat((short) 0xC000));
        assertEquals(65504f, SafeTensors.halfToFloat((short) 0x7BFF));
        assertEquals(5.9604645e-8f, SafeTensors.halfToFloat((short) 0x0001));
        assertTrue(Float.isInfinite(SafeTensors.halfToFloat((short) 0x7C00)));
    }

    private Path copyFixture(String name) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        for (String f : List.of(
                "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            Files.copy(Fixture.DIR.resolve(f), dir.resolve(f));
        }
        return dir;
    }

    private static void assertMessage(Path dir, String file, String problem) {
        CheckpointException e = assertThrows(
                CheckpointException.class,
                () -> PolicyModel.load(dir, Device.cpu()).close());
        assertTrue(
                e.getMessage().contains(file) && e.getMessage().contains(problem),
                "expected '" + file + "' and '" + problem + "' in: " + e.getMessage());
    }
}
