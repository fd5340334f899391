package dev.katmesh.policy;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** A Hugging Face tokenizer.json, through DJL's binding of the tokenizers library (offline). */
public final class PolicyTokenizer implements AutoCloseable {

    private final HuggingFaceTokenizer tokenizer;

    private PolicyTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    public static PolicyTokenizer load(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file, "missing tokenizer.json");
        }
        try {
            // No truncation, no padding, no added special tokens: ids exactly as transformers' tokenizer(text).
            return new PolicyTokenizer(HuggingFaceTokenizer.newInstance(
                    file,
                    Map.of(
                            "truncation",
                            "false",
                            "padding",
                            "false",
                            "addSpecialTokens",
                            "false",
                            "maxLength",
                            "1000000000")));
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

    @Override
    public void close() {
        tokenizer.close();
    }
}
