package dev.katmesh.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Low-rank adapters' shape (Hu et al., 2021): each targeted projection W [out, in] computes x·Wᵀ + (α/r)·x·Aᵀ·Bᵀ with
 * A [r, in] and B [out, r] trained and W frozen. Written as PEFT's {@code adapter_config.json}, so an adapter this
 * project trains loads in PEFT, transformers and vLLM, and one they trained loads here.
 *
 * @param rank    r, the adapters' inner dimension
 * @param alpha   α; the update is scaled by α / r, so a rank can change without retuning the learning rate
 * @param targets the projections adapted, by their last name (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
 *                down_proj)
 */
public record LoraSettings(int rank, double alpha, List<String> targets) {

    /** Adapters' configuration file in a PEFT adapter folder. */
    public static final String CONFIG_FILE = "adapter_config.json";

    /** Every projection of a decoder layer: the attention's and the MLP's. */
    public static final List<String> ALL_PROJECTIONS =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    private static final Set<String> KNOWN = Set.copyOf(ALL_PROJECTIONS);
    private static final ObjectMapper JSON = new ObjectMapper();

    public LoraSettings {
        if (rank < 1) {
            throw new IllegalArgumentException("LoRA rank must be at least 1, got " + rank);
        }
        if (!(alpha > 0)) {
            throw new IllegalArgumentException("LoRA alpha must be positive, got " + alpha);
        }
        targets = List.copyOf(targets);
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("LoRA needs at least one target projection");
        }
        for (String t : targets) {
            if (!KNOWN.contains(t)) {
                throw new IllegalArgumentException("unknown LoRA target '" + t + "'; known: " + ALL_PROJECTIONS);
            }
        }
    }

    /** Rank r with α = 2r on every projection: the common choice for instruction tuning. */
    public static LoraSettings of(int rank) {
        return new LoraSettings(rank, 2.0 * rank, ALL_PROJECTIONS);
    }

    /** The factor of the low-rank update, α / r. */
    public float scale() {
        return (float) (alpha / rank);
    }

    /** Writes PEFT's adapter_config.json into {@code dir}; {@code base} names the weights the adapters apply to. */
    public void write(Path dir, String base) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("peft_type", "LORA");
        n.put("task_type", "CAUSAL_LM");
        n.put("base_model_name_or_path", base);
        n.put("r", rank);
        n.put("lora_alpha", alpha);
        n.put("lora_dropout", 0.0);
        n.put("bias", "none");
        n.put("fan_in_fan_out", false);
        n.put("use_rslora", false);
        n.put("inference_mode", true);
        targets.forEach(n.putArray("target_modules")::add);
        Files.createDirectories(dir);
        JSON.writerWithDefaultPrettyPrinter()
                .writeValue(dir.resolve(CONFIG_FILE).toFile(), n);
    }

    /** Reads a PEFT adapter_config.json, refusing what this project cannot apply (naming it). */
    public static LoraSettings read(Path file) {
        return parse(file, readTree(file));
    }

    /** Parses adapter_config.json's text (as the Weights stream carries it). */
    public static LoraSettings parse(String json) {
        try {
            return parse(Path.of(CONFIG_FILE), JSON.readTree(json));
        } catch (IOException e) {
            throw new IllegalArgumentException("unreadable adapter_config.json: " + e.getMessage(), e);
        }
    }

    private static LoraSettings parse(Path file, JsonNode n) {
        if (!"LORA".equals(n.path("peft_type").asText("LORA"))) {
            throw new CheckpointException(
                    file, "peft_type " + n.path("peft_type").asText() + " is not LORA");
        }
        if (n.path("use_rslora").asBoolean(false) || n.path("use_dora").asBoolean(false)) {
            throw new CheckpointException(file, "rsLoRA and DoRA adapters are not supported");
        }
        if (!"none".equals(n.path("bias").asText("none"))) {
            throw new CheckpointException(file, "adapters with trained biases are not supported");
        }
        if (!n.path("r").canConvertToInt() || !n.has("lora_alpha")) {
            throw new CheckpointException(file, "r and lora_alpha are required");
        }
        List<String> targets = new ArrayList<>();
        JsonNode t = n.path("target_modules");
        if (t.isTextual()) {
            throw new CheckpointException(file, "target_modules as a regular expression is not supported; list them");
        }
        t.forEach(x -> targets.add(x.asText()));
        try {
            return new LoraSettings(n.get("r").asInt(), n.get("lora_alpha").asDouble(), targets);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, e.getMessage());
        }
    }

    private static JsonNode readTree(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file, "unreadable: " + e.getMessage());
        }
    }
}
