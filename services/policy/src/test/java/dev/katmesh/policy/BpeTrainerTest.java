package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTrainerTest {

    static final List<String> SPECIALS =
            List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>");

    static List<String> corpus() {
        List<String> texts = new ArrayList<>();
        Random r = new Random(3);
        for (int i = 0; i < 200; i++) {
            int k = r.nextInt(200) - 100;
            texts.add("<|im_start|>user\nWrite solution.py with solve(xs) returning sum(xs) plus " + k + ".<|im_end|>"
                    + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"solution.py\", "
                    + "\"content\": \"def solve(xs):\\n    return sum(xs) + (" + k
                    + ")\\n\"}}\n</tool_call><|im_end|>");
        }
        return texts;
    }

    @Test
    void trainedTokenizerLoadsInHuggingFaceTokenizersAndRoundTrips(@TempDir Path dir) throws Exception {
        BpeTrainer.Bpe bpe = BpeTrainer.train(corpus(), 600, SPECIALS);
        int size = bpe.vocab().size();
        assertTrue(
                size > 400 && size <= 600,
                "merges until the vocabulary is full or every repeated pair is merged: " + size);
        assertEquals(0, bpe.vocab().get("<|endoftext|>"));
        assertEquals(2, bpe.vocab().get("<|im_end|>"));
        BpeTrainer.write(bpe, dir);
        try (PolicyTokenizer t = PolicyTokenizer.load(dir)) {
            for (String text : List.of(
                    corpus().get(7),
                    "héllo wörld ✓ \t tabs\n\nand 12345 digits",
                    "<|im_start|>assistant\nok<|im_end|>")) {
                int[] ids = t.encode(text);
                assertEquals(text, t.decode(ids), "decode(encode(x)) == x");
            }
            int[] ids = t.encode("<|im_start|>assistant\n<tool_call>\n");
            assertEquals(1, ids[0], "a special token is one id");
            assertTrue(Arrays.stream(ids).anyMatch(i -> i == 3), "<tool_call> is one id");
            String sample = corpus().get(11);
            int bytes = sample.getBytes(StandardCharsets.UTF_8).length;
            assertTrue(
                    t.encode(sample).length * 3 < bytes,
                    "merges compress the corpus's own text: " + t.encode(sample).length + " ids for " + bytes
                            + " bytes");
            for (int id : t.encode(" 1234567")) {
                String piece = t.decode(new int[] {id});
                assertTrue(piece.replaceAll("\\D", "").length() <= 2, "digit runs stay short: '" + piece + "'");
            }
        }
    }

    @Test
    void sameCorpusSameTokenizer(@TempDir Path dir) throws Exception {
        BpeTrainer.write(BpeTrainer.train(corpus(), 500, SPECIALS), dir.resolve("a"));
        BpeTrainer.write(BpeTrainer.train(corpus(), 500, SPECIALS), dir.resolve("b"));
        assertArrayEquals(
                Files.readAllBytes(dir.resolve("a/tokenizer.json")),
                Files.readAllBytes(dir.resolve("b/tokenizer.json")));
    }
}
