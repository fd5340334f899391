package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.BpeTrainer;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Makes the models the project trains itself: a byte-level BPE tokenizer fitted to a corpus, katmesh's
 * chat template, and a Qwen3 decoder of a given shape initialised from a seed — a Hugging Face
 * checkpoint folder like any other (config.json, model.safetensors, tokenizer.json, chat_template.jinja).
 */
public final class ModelFactory {

    /** The special tokens, in id order: padding/document end, the ChatML turn marks, the tool-call marks. */
    public static final List<String> SPECIAL_TOKENS =
            List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>");

    /** A decoder's shape. */
    public record Shape(
            int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int maxPositions) {}

    private ModelFactory() {}

    /** Trains a tokenizer on {@code corpus} and writes it with the chat template into {@code dir}. Returns its vocabulary size. */
    public static int tokenizer(Iterable<String> corpus, int vocabSize, Path dir) throws IOException {
        return tokenizer(BpeTrainer.train(corpus, vocabSize, SPECIAL_TOKENS), dir);
    }

    /** Writes a trained tokenizer with the chat template into {@code dir}. Returns its vocabulary size. */
    public static int tokenizer(BpeTrainer.Bpe bpe, Path dir) throws IOException {
        BpeTrainer.write(bpe, dir);
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {
                  "bos_token": null,
                  "eos_token": "<|im_end|>",
                  "pad_token": "<|endoftext|>",
                  "model_max_length": 4096
                }
                """, StandardCharsets.UTF_8);
        try (InputStream in = ModelFactory.class.getResourceAsStream("/model/chat_template.jinja")) {
            Files.write(dir.resolve("chat_template.jinja"), in.readAllBytes());
        }
        return bpe.vocab().size();
    }

    /**
     * A fresh model with the tokenizer of {@code tokenizerDir}: its vocabulary size from tokenizer.json,
     * end of turn and padding from its special tokens (or from config.json when the folder has one).
     */
    public static ModelConfig config(Path tokenizerDir, Shape shape) throws IOException {
        Path existing = tokenizerDir.resolve("config.json");
        int vocab;
        List<Integer> eos;
        int pad;
        if (Files.isRegularFile(existing)) {
            ModelConfig base = ModelConfig.read(existing);
            vocab = base.vocabSize();
            eos = base.eosTokenIds();
            pad = base.padTokenId();
        } else {
            // Every id the tokenizer can produce: its model's vocabulary and its added tokens (Qwen's special
            // tokens are only among the added ones, past the BPE vocabulary).
            JsonNode t = new ObjectMapper()
                    .readTree(tokenizerDir.resolve("tokenizer.json").toFile());
            Map<String, Integer> ids = new HashMap<>();
            t.path("model")
                    .path("vocab")
                    .fields()
                    .forEachRemaining(e -> ids.put(e.getKey(), e.getValue().asInt()));
            t.path("added_tokens")
                    .forEach(a ->
                            ids.put(a.path("content").asText(), a.path("id").asInt()));
            vocab = ids.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
            if (!ids.containsKey("<|im_end|>") || !ids.containsKey("<|endoftext|>")) {
                throw new IOException(tokenizerDir.resolve("tokenizer.json")
                        + " has no <|im_end|> or <|endoftext|> token: give the folder a config.json with the"
                        + " end-of-turn and padding ids");
            }
            eos = List.of(ids.get("<|im_end|>"));
            pad = ids.get("<|endoftext|>");
        }
        return new ModelConfig(
                ModelConfig.QWEN3,
                vocab,
                shape.hidden(),
                shape.intermediate(),
                shape.layers(),
                shape.heads(),
                shape.kvHeads(),
                shape.headDim(),
                1e-6,
                10_000.0,
                shape.maxPositions(),
                true,
                false,
                true,
                eos,
                pad,
                0.02);
    }

    /** Writes a model initialised from {@code seed} to {@code out}. Returns its parameter count. */
    public static long init(Path tokenizerDir, Shape shape, long seed, Path out) throws IOException {
        ModelConfig c = config(tokenizerDir, shape);
        try (DecoderModel m = DecoderModel.random(c, seed, PolicyModel.device("cpu"))) {
            Checkpoints.saveModel(m, out, tokenizerDir);
        }
        return c.parameterCount();
    }
}
