package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.ByteBuffer;
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
        String sha256 = writeArrays(dir.resolve(MODEL_FILE), model.parameters(), Map.of());
        model.config().write(dir.resolve("config.json"));
        copyTokenizer(tokenizerDir, dir);
        return sha256;
    }

    /**
     * Writes an adapter version: a PEFT adapter folder (adapter_config.json naming {@code base}, the weights it applies
     * to; adapter_model.safetensors) with the model's config.json and the tokenizer files of {@code tokenizerDir}.
     * Returns the adapters' SHA-256, what the Weights stream of this version carries.
     */
    public static String saveAdapters(
            LoraAdapters adapters, ModelConfig config, Path dir, Path tokenizerDir, String base) throws IOException {
        String sha256 = adapters.save(dir, base);
        config.write(dir.resolve("config.json"));
        copyTokenizer(tokenizerDir, dir);
        return sha256;
    }

    /** Whether {@code dir} holds adapters (a PEFT adapter folder) rather than a model's weights. */
    public static boolean isAdapter(Path dir) {
        return Files.isRegularFile(dir.resolve(LoraAdapters.WEIGHTS_FILE));
    }

    private static void copyTokenizer(Path tokenizerDir, Path dir) throws IOException {
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
    }

    /**
     * The weights (or an adapter version's adapters) of a checkpoint this project wrote, mapped, in file order: what
     * the Weights stream sends. A
     * tensor in another dtype is a {@link CheckpointException} (the stream carries F32 only).
     */
    public static List<SafeTensors.Slot> mappedWeights(Path dir) {
        Path file = dir.resolve(isAdapter(dir) ? LoraAdapters.WEIGHTS_FILE : MODEL_FILE);
        List<SafeTensors.Slot> slots = SafeTensors.map(file);
        for (SafeTensors.Slot s : slots) {
            if (!s.dtype().equals("F32")) {
                throw new CheckpointException(file, "tensor '" + s.name() + "' is " + s.dtype() + ", F32 expected");
            }
        }
        return slots;
    }

    /** Optimizer state: named tensors (e.g. "exp_avg/model.norm.weight") and the step count. */
    public record OptimizerState(long step, Map<String, ByteBuffer> tensors) {}

    public static void saveOptimizer(Path dir, long step, Map<String, NDArray> state) throws IOException {
        Files.createDirectories(dir);
        writeArrays(dir.resolve(OPTIMIZER_FILE), state, Map.of("step", Long.toString(step)));
    }

    /**
     * Engine arrays as float32 safetensors, one tensor's bytes at a time straight from engine memory: a 0.6B
     * model's weights and its optimizer moments (7 GB) never pass through the Java heap.
     */
    static String writeArrays(Path file, Map<String, NDArray> arrays, Map<String, String> metadata) throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        arrays.forEach((name, a) -> shapes.put(name, a.getShape().getShape()));
        return SafeTensors.write(
                file,
                shapes,
                name -> {
                    NDArray a = arrays.get(name);
                    if (a.getDataType() != DataType.FLOAT32) {
                        throw new IllegalStateException("'" + name + "' is " + a.getDataType() + ", not float32");
                    }
                    return a.toByteBuffer(true);
                },
                metadata);
    }

    /** Whether {@code dir} has optimizer state (version 0, written before any step, has none). */
    public static boolean hasOptimizer(Path dir) {
        return Files.isRegularFile(dir.resolve(OPTIMIZER_FILE));
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
        Map<String, ByteBuffer> tensors = new LinkedHashMap<>();
        for (SafeTensors.Slot slot : SafeTensors.map(f)) {
            if (!slot.dtype().equals("F32")) {
                throw new CheckpointException(f, "tensor '" + slot.name() + "' is " + slot.dtype() + ", F32 expected");
            }
            tensors.put(slot.name(), slot.bytes());
        }
        return new OptimizerState(Long.parseLong(step), tensors);
    }
}
