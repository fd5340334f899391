package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a stage trains: every weight (full fine-tuning), or LoRA adapters on the frozen weights. Full fine-tuning
 * keeps gradients and two AdamW moments of every weight (16 bytes a parameter in float32 beside the 4 of the weight);
 * LoRA keeps them for the adapters alone, so a model that full fine-tuning cannot fit in memory trains with LoRA, and
 * its versions are the adapters alone (kilobytes to megabytes to sync instead of the model).
 *
 * @param lora the adapters' shape; null for full fine-tuning
 */
public record TrainingMethod(LoraSettings lora) {

    public static final TrainingMethod FULL = new TrainingMethod(null);

    /** Models above this many parameters train with LoRA unless a stage says otherwise ({@link #auto}). */
    public static final long LORA_ABOVE_PARAMETERS = 100_000_000L;

    /** The default adapter rank where LoRA is chosen without one. */
    public static final int DEFAULT_RANK = 16;

    public boolean isLora() {
        return lora != null;
    }

    /**
     * The default for a model: LoRA of rank {@link #DEFAULT_RANK} on every projection above {@code aboveParameters}
     * parameters (where full fine-tuning's 20 bytes a parameter stop fitting a machine beside its serving), full
     * fine-tuning below.
     */
    public static TrainingMethod auto(ModelConfig config, long aboveParameters) {
        return of("auto", DEFAULT_RANK, aboveParameters, config);
    }

    /**
     * A learner's setting for stages that name no method: {@code full}, {@code lora} (rank {@code rank}, α = 2·rank,
     * every projection) or {@code auto} (that LoRA above {@code aboveParameters}, full below).
     */
    public static TrainingMethod of(String setting, int rank, long aboveParameters, ModelConfig config) {
        TrainingMethod lora = new TrainingMethod(LoraSettings.of(rank));
        return switch (setting.toLowerCase(Locale.ROOT)) {
            case "full" -> FULL;
            case "lora" -> lora;
            case "auto" -> config.parameterCount() > aboveParameters ? lora : FULL;
            default -> throw new IllegalArgumentException("the method must be full, lora or auto, not " + setting);
        };
    }

    /**
     * A stage's {@code method} (full | lora) with {@code lora: {rank, alpha, targets}}; null when the stage names
     * none (the learner's default applies).
     */
    static TrainingMethod parse(JsonNode stage, String where) {
        String method = stage.path("method").asText("");
        JsonNode lora = stage.path("lora");
        if (method.isEmpty() && lora.isMissingNode()) {
            return null;
        }
        if (method.equals("full")) {
            if (!lora.isMissingNode()) {
                throw new IllegalArgumentException(where + ": 'lora' settings are for method: lora");
            }
            return FULL;
        }
        if (!method.isEmpty() && !method.equals("lora")) {
            throw new IllegalArgumentException(where + ": method must be full or lora, not " + method);
        }
        int rank = lora.path("rank").asInt(DEFAULT_RANK);
        List<String> targets = new ArrayList<>();
        lora.path("targets").forEach(t -> targets.add(t.asText()));
        try {
            return new TrainingMethod(new LoraSettings(
                    rank,
                    lora.path("alpha").asDouble(2.0 * rank),
                    targets.isEmpty() ? LoraSettings.ALL_PROJECTIONS : targets));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": lora: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return isLora() ? "lora(r=" + lora.rank() + ", alpha=" + lora.alpha() + ")" : "full";
    }
}
