package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checkpoint IO in Hugging Face's layout: {@code config.json} + {@code model.safetensors} (F32), the
 * tokenizer files beside them, and optionally {@code optimizer.safetensors} with the optimizer's state
 * tensors and its step in the metadata. Values are written as raw IEEE floats, so a round trip is
 * bit-exact.
 */
public final class Checkpoints {

    /** The weights of a checkpoint this project writes (one file; sharded ones are read, see DecoderModel). */
    public static final String MODEL_FILE = "model.safetensors";

    static final String OPTIMIZER_FILE = "optimizer.safetensors";
    static final String[] TOKENIZER_FILES = {
        "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"
    };

    private Checkpoints() {}

    /**
     * Writes config.json and model.safetensors, and copies the tokenizer files of {@code tokenizerDir} if given.
     * Returns the weights' SHA-256 as {@link SafeTensors#write} hashed them.
     */
    public static String saveModel(DecoderModel model, Path dir, Path tokenizerDir) throws IOException {
        Files.createDirectories(dir);
        String sha256 = SafeTensors.write(dir.resolve(MODEL_FILE), model.toTensors(), Map.of());
        model.config().write(dir.resolve("config.json"));
        if (tokenizerDir != null
                && !tokenizerDir
                        .toAbsolutePath()
                        .normalize()
                        .equals(dir.toAbsolutePath().normalize())) {
            for (String f : TOKENIZER_FILES) {
                Path src = tokenizerDir.resolve(f);
                if (Files.isRegularFile(src)) {
                    Files.copy(src, dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return sha256;
    }

    /**
     * The weights of a checkpoint this project wrote, mapped, in file order: what the Weights stream sends. A
     * tensor in another dtype is a {@link CheckpointException} (the stream carries F32 only).
     */
    public static List<SafeTensors.Slot> mappedWeights(Path dir) {
        Path file = dir.resolve(MODEL_FILE);
        List<SafeTensors.Slot> slots = SafeTensors.map(file);
        for (SafeTensors.Slot s : slots) {
            if (!s.dtype().equals("F32")) {
                throw new CheckpointException(file, "tensor '" + s.name() + "' is " + s.dtype() + ", F32 expected");
            }
        }
        return slots;
    }

    /** Optimizer state: named tensors (e.g. "exp_avg/model.norm.weight") and the step count. */
    public record OptimizerState(long step, Map<String, SafeTensors.Tensor> tensors) {}

    public static void saveOptimizer(Path dir, long step, Map<String, NDArray> state) throws IOException {
        Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
        state.forEach((name, a) ->
                tensors.put(name, new SafeTensors.Tensor(a.getShape().getShape(), a.toFloatArray(), "F32")));
        Files.createDirectories(dir);
        SafeTensors.write(dir.resolve(OPTIMIZER_FILE), tensors, Map.of("step", Long.toString(step)));
    }

    public static OptimizerState loadOptimizer(Path dir) {
        Path f = dir.resolve(OPTIMIZER_FILE);
        if (!Files.isRegularFile(f)) {
            throw new CheckpointException(f, "missing optimizer state");
        }
        String step = SafeTensors.metadata(f).get("step");
        if (step == null) {
            throw new CheckpointException(f, "no step in the metadata");
        }
        return new OptimizerState(Long.parseLong(step), SafeTensors.read(f));
    }
}
