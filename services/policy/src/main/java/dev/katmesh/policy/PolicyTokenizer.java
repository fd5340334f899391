package dev.katmesh.policy;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** A Hugging Face tokenizer.json, through DJL's binding of the tokenizers library (offline). */
public final class PolicyTokenizer implements AutoCloseable {

    /**
     * Special tokens that are syntax the server parses out of the text (tool calls, thinking), not the chat's
     * structure: they stay in the text that {@link #decodeText} gives (some tokenizers, this project's own among
     * them, mark them special; Qwen3's does not).
     */
    private static final Set<String> SYNTAX_TOKENS = Set.of("<tool_call>", "</tool_call>", "<think>", "</think>");

    private final HuggingFaceTokenizer tokenizer;
    private final Set<Integer> controlIds;

    private PolicyTokenizer(HuggingFaceTokenizer tokenizer, Set<Integer> controlIds) {
        this.tokenizer = tokenizer;
        this.controlIds = Set.copyOf(controlIds);
    }

    public static PolicyTokenizer load(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "missing tokenizer.json");
        }
        try {
            // No truncation, no padding, no added special tokens: ids exactly as transformers' tokenizer(text).
            Set<Integer> control = new HashSet<>();
            for (JsonNode t : new ObjectMapper().readTree(file.toFile()).path("added_tokens")) {
                if (t.path("special").asBoolean(false)
                        && !SYNTAX_TOKENS.contains(t.path("content").asText())) {
                    control.add(t.path("id").asInt());
                }
            }
            return new PolicyTokenizer(
                    HuggingFaceTokenizer.newInstance(
                            file,
                            Map.of(
                                    "truncation",
                                    "false",
                                    "padding",
                                    "false",
                                    "addSpecialTokens",
                                    "false",
                                    "maxLength",
                                    "1000000000")),
                    control);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(file, "not a loadable tokenizer: " + e.getMessage(), e);
        }
    }

    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        Encoding e = tokenizer.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Decodes ids to text, special tokens included (as the chat template wrote them). */
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    /**
     * The text a client is given: the chat's control tokens ({@code <|im_start|>}, {@code <|endoftext|>}, any
     * special token but tool-call and thinking markers) left out, as transformers' {@code skip_special_tokens}
     * does; a model that emits one mid-answer writes nothing there.
     */
    public String decodeText(int[] ids) {
        int n = 0;
        int[] kept = new int[ids.length];
        for (int id : ids) {
            if (!controlIds.contains(id)) {
                kept[n++] = id;
            }
        }
        return decode(n == ids.length ? ids : Arrays.copyOf(kept, n));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
