package dev.katmesh.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The architecture of a Qwen2/Qwen3 decoder, as Hugging Face's config.json describes it.
 *
 * @param architecture     "Qwen2ForCausalLM" or "Qwen3ForCausalLM"
 * @param qkNorm           Qwen3: RMSNorm over each head of q and k before RoPE
 * @param attentionBias    Qwen2: bias on the q, k and v projections
 * @param ropeTheta        read from the top level (real checkpoints) or from rope_parameters
 * @param initializerRange standard deviation of fresh weights
 */
public record ModelConfig(
        String architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean qkNorm,
        List<Integer> eosTokenIds,
        int padTokenId,
        double initializerRange) {

    public static final String QWEN2 = "Qwen2ForCausalLM";
    public static final String QWEN3 = "Qwen3ForCausalLM";

    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException(
                    "num_attention_heads " + numHeads + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for RoPE, got " + headDim);
        }
    }

    /** A Qwen3 config of the given shape with the usual defaults (for the project's own models). */
    public static ModelConfig qwen3(
            int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim) {
        return new ModelConfig(
                QWEN3,
                vocab,
                hidden,
                intermediate,
                layers,
                heads,
                kvHeads,
                headDim,
                1e-6,
                1_000_000.0,
                4096,
                true,
                false,
                true,
                List.of(2),
                0,
                0.02);
    }

    public static ModelConfig read(Path file) {
        JsonNode c;
        try {
            c = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file, "not readable JSON: " + e.getMessage(), e);
        }
        if (c == null || !c.isObject()) {
            throw new CheckpointException(file, "not a JSON object");
        }
        String arch = c.path("architectures").path(0).asText("");
        if (!arch.equals(QWEN2) && !arch.equals(QWEN3)) {
            String type = c.path("model_type").asText("");
            arch = type.equals("qwen2") ? QWEN2 : type.equals("qwen3") ? QWEN3 : arch;
        }
        if (!arch.equals(QWEN2) && !arch.equals(QWEN3)) {
            throw new CheckpointException(
                    file, "unsupported architecture '" + arch + "' (supported: " + QWEN2 + ", " + QWEN3 + ")");
        }
        boolean qwen3 = arch.equals(QWEN3);
        int hidden = required(c, "hidden_size", file);
        int heads = required(c, "num_attention_heads", file);
        double theta = c.has("rope_theta")
                ? c.get("rope_theta").asDouble()
                : c.path("rope_parameters").path("rope_theta").asDouble(10_000.0);
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.path("eos_token_id");
        if (e.isArray()) {
            e.forEach(n -> eos.add(n.asInt()));
        } else if (e.isInt()) {
            eos.add(e.asInt());
        }
        try {
            return new ModelConfig(
                    arch,
                    required(c, "vocab_size", file),
                    hidden,
                    required(c, "intermediate_size", file),
                    required(c, "num_hidden_layers", file),
                    heads,
                    c.path("num_key_value_heads").asInt(heads),
                    c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : hidden / heads,
                    c.path("rms_norm_eps").asDouble(1e-6),
                    theta,
                    c.path("max_position_embeddings").asInt(32768),
                    c.path("tie_word_embeddings").asBoolean(false),
                    c.has("attention_bias") ? c.get("attention_bias").asBoolean() : !qwen3,
                    qwen3,
                    eos,
                    c.path("pad_token_id").asInt(0),
                    c.path("initializer_range").asDouble(0.02));
        } catch (IllegalArgumentException ex) {
            throw new CheckpointException(file, ex.getMessage(), ex);
        }
    }

    private static int required(JsonNode c, String field, Path file) {
        if (!c.path(field).isInt()) {
            throw new CheckpointException(file, "missing or non-integer '" + field + "'");
        }
        return c.get(field).asInt();
    }

    /** config.json as Hugging Face writes it (loadable by transformers and by {@link #read}). */
    public String toJson() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(architecture);
        c.put("model_type", qkNorm ? "qwen3" : "qwen2");
        c.put("vocab_size", vocabSize);
        c.put("hidden_size", hiddenSize);
        c.put("intermediate_size", intermediateSize);
        c.put("num_hidden_layers", numLayers);
        c.put("num_attention_heads", numHeads);
        c.put("num_key_value_heads", numKvHeads);
        c.put("head_dim", headDim);
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", rmsNormEps);
        c.put("rope_theta", ropeTheta);
        c.put("max_position_embeddings", maxPositionEmbeddings);
        c.put("tie_word_embeddings", tieWordEmbeddings);
        c.put("attention_bias", attentionBias);
        ArrayNode eos = c.putArray("eos_token_id");
        eosTokenIds.forEach(eos::add);
        c.put("pad_token_id", padTokenId);
        c.put("initializer_range", initializerRange);
        c.put("torch_dtype", "float32");
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public void write(Path file) throws IOException {
        Files.writeString(file, toJson());
    }

    /** Number of parameters (embeddings counted once when tied). */
    public long parameterCount() {
        long attn = (long) hiddenSize * headDim * (numHeads * 2L + numKvHeads * 2L)
                + (attentionBias ? (long) headDim * (numHeads + 2L * numKvHeads) : 0)
                + (qkNorm ? 2L * headDim : 0);
        long mlp = 3L * hiddenSize * intermediateSize;
        long layer = attn + mlp + 2L * hiddenSize;
        long embed = (long) vocabSize * hiddenSize;
        return embed * (tieWordEmbeddings ? 1 : 2) + numLayers * layer + hiddenSize;
    }
}
