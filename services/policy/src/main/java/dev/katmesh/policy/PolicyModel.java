package dev.katmesh.policy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A policy as its users see it: the decoder, its tokenizer and chat template, loaded from a Hugging
 * Face checkpoint folder (no hub). Inference and the learner share it.
 */
public final class PolicyModel implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final DecoderModel decoder;
    private final PolicyTokenizer tokenizer;
    private final ChatTemplate chatTemplate;

    private PolicyModel(Path dir, DecoderModel decoder, PolicyTokenizer tokenizer, ChatTemplate chatTemplate) {
        this.dir = dir;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
    }

    /**
     * Loads config.json, the weights, tokenizer.json and the chat template of {@code dir} onto
     * {@code device}. A bad folder fails with a {@link CheckpointException} naming the file and problem.
     */
    public static PolicyModel load(Path dir, Device device) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(dir, "not a directory");
        }
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new CheckpointException(config, "missing config.json");
        }
        ModelConfig c = ModelConfig.read(config);
        PolicyTokenizer tokenizer = PolicyTokenizer.load(dir);
        ChatTemplate template = ChatTemplate.load(dir);
        return new PolicyModel(dir, DecoderModel.load(dir, c, device), tokenizer, template);
    }

    /** Loads only what tokenizing needs (no weights). */
    public static PolicyTokenizer tokenizer(Path dir) {
        return PolicyTokenizer.load(dir);
    }

    /** The device named by a setting ("cpu", "gpu", "gpu:1"); the default engine's when null or blank. */
    public static Device device(String name) {
        return name == null || name.isBlank() ? Device.cpu() : Device.fromName(name);
    }

    public Path directory() {
        return dir;
    }

    public DecoderModel decoder() {
        return decoder;
    }

    public PolicyTokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    public ModelConfig config() {
        return decoder.config();
    }

    /** Renders messages (OpenAI chat shapes) with the chat template. */
    public String render(
            List<Map<String, Object>> messages, List<Map<String, Object>> tools, boolean addGenerationPrompt) {
        return chatTemplate.render(messages, tools, addGenerationPrompt);
    }

    /** Parses a JSON array of messages or tools into the maps the chat template takes. */
    public static List<Map<String, Object>> parseJsonArray(String json) throws IOException {
        return JSON.readValue(json, new TypeReference<>() {});
    }

    /** Entry i is log p(ids[i+1] | ids[0..i]) under teacher forcing (ids.length - 1 entries). */
    public float[] score(int[] ids) {
        if (ids.length < 2) {
            return new float[0];
        }
        int n = ids.length - 1;
        int[] input = Arrays.copyOf(ids, n);
        int[] targets = Arrays.copyOfRange(ids, 1, ids.length);
        try (NDManager scope = decoder.manager().newSubManager()) {
            NDArray lp = decoder.tokenLogProbs(
                    scope, new int[][] {input}, DecoderModel.positions(0, n), DecoderModel.causal(0, n), new int[][] {
                        targets
                    });
            return lp.toFloatArray();
        }
    }

    /** Logits [T][vocab] of a whole sequence. */
    public float[][] logits(int[] ids) {
        try (NDManager scope = decoder.manager().newSubManager()) {
            float[] flat = decoder.forward(
                            scope,
                            new int[][] {ids},
                            DecoderModel.positions(0, ids.length),
                            DecoderModel.causal(0, ids.length),
                            null)
                    .toFloatArray();
            int v = config().vocabSize();
            float[][] out = new float[ids.length][];
            for (int t = 0; t < ids.length; t++) {
                out[t] = Arrays.copyOfRange(flat, t * v, (t + 1) * v);
            }
            return out;
        }
    }

    public Generation generate(int[] prompt, SamplingParams params) {
        return new Generator(decoder).generate(prompt, params);
    }

    /** Saves weights and config, with this model's tokenizer files, to {@code target}. */
    public void save(Path target) throws IOException {
        Checkpoints.saveModel(decoder, target, dir);
    }

    @Override
    public void close() {
        decoder.close();
        tokenizer.close();
    }
}
