package dev.katmesh.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Trains a byte-level BPE tokenizer (the kind Qwen and GPT-2 use) on a corpus and writes it as a
 * Hugging Face tokenizer.json, so a model the project makes itself can have a vocabulary fitted to its
 * data: fewer tokens per text than a generic small vocabulary, which on a CPU is most of the training
 * cost.
 *
 * <p>The algorithm is the standard one: texts are split at the special tokens, pre-tokenized with the
 * GPT-2 pattern (what the ByteLevel pre-tokenizer with use_regex does), mapped to byte symbols; then the
 * most frequent adjacent pair is merged, again and again, until the vocabulary is full or no pair occurs
 * twice (a small corpus gives a smaller vocabulary; ties: the
 * lexicographically smallest pair, so a corpus always gives the same tokenizer). Digit runs are capped
 * at two characters per token so numbers stay composable (a constant in an instruction and in code are
 * the same tokens) instead of each frequent number becoming an opaque token.
 */
public final class BpeTrainer {

    /** The GPT-2 pre-tokenization pattern, as the ByteLevel pre-tokenizer applies it. */
    static final Pattern PRE_TOKENIZE =
            Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    /** Digits a token may hold by default: numbers stay composable (see the class comment). */
    public static final int MAX_DIGITS = 2;

    private BpeTrainer() {}

    /** The trained vocabulary (token → id, specials first, then the 256 bytes, then merges in order) and merges. */
    public record Bpe(Map<String, Integer> vocab, List<String[]> merges, List<String> specialTokens) {}

    /**
     * Trains on {@code texts} up to {@code vocabSize} tokens (special tokens and the 256 byte symbols
     * included).
     */
    public static Bpe train(Iterable<String> texts, int vocabSize, List<String> specialTokens) {
        return train(texts, vocabSize, specialTokens, MAX_DIGITS);
    }

    /** As {@link #train(Iterable, int, List)}, with tokens of at most {@code maxDigits} digits (0: every digit its own token). */
    public static Bpe train(Iterable<String> texts, int vocabSize, List<String> specialTokens, int maxDigits) {
        if (vocabSize < specialTokens.size() + 256) {
            throw new IllegalArgumentException("vocabSize must hold the special tokens and the 256 bytes");
        }
        String[] byteSymbol = byteSymbols();
        Pattern specials = Pattern.compile(
                String.join("|", specialTokens.stream().map(Pattern::quote).toList()));
        Map<String, Integer> wordCounts = new HashMap<>();
        for (String text : texts) {
            for (String part : specials.split(text)) {
                Matcher m = PRE_TOKENIZE.matcher(part);
                while (m.find()) {
                    wordCounts.merge(m.group(), 1, Integer::sum);
                }
            }
        }
        // Symbols are ints (an index into names); each distinct word is a list of them, with its count.
        List<String> names = new ArrayList<>();
        List<Integer> digits = new ArrayList<>();
        Map<String, Integer> symbolOf = new HashMap<>();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String s : specialTokens) {
            vocab.put(s, vocab.size());
        }
        for (int b : byteOrder()) {
            vocab.putIfAbsent(byteSymbol[b], vocab.size());
            symbolOf.put(byteSymbol[b], names.size());
            names.add(byteSymbol[b]);
            digits.add(Character.isDigit(byteSymbol[b].charAt(0)) ? 1 : 0);
        }
        List<List<Integer>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        wordCounts.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            List<Integer> symbols = new ArrayList<>();
            for (byte b : e.getKey().getBytes(StandardCharsets.UTF_8)) {
                symbols.add(symbolOf.get(byteSymbol[b & 0xFF]));
            }
            words.add(symbols);
            counts.add(e.getValue());
        });
        List<String[]> merges = new ArrayList<>();
        while (vocab.size() < vocabSize) {
            Map<Long, long[]> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<Integer> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    int x = s.get(i);
                    int y = s.get(i + 1);
                    if (digits.get(x) + digits.get(y) <= maxDigits) {
                        pairs.computeIfAbsent(((long) x << 32) | y, k -> new long[1])[0] += counts.get(w);
                    }
                }
            }
            long best = -1;
            long bestCount = 1; // a pair seen once is not worth a token
            for (Map.Entry<Long, long[]> e : pairs.entrySet()) {
                long c = e.getValue()[0];
                if (c > bestCount
                        || (c == bestCount
                                && best >= 0
                                && pairName(names, e.getKey()).compareTo(pairName(names, best)) < 0)) {
                    best = e.getKey();
                    bestCount = c;
                }
            }
            if (best < 0) {
                break; // nothing left worth merging: a smaller vocabulary
            }
            int x = (int) (best >>> 32);
            int y = (int) best;
            String merged = names.get(x) + names.get(y);
            merges.add(new String[] {names.get(x), names.get(y)});
            vocab.putIfAbsent(merged, vocab.size());
            int z = symbolOf.computeIfAbsent(merged, k -> {
                names.add(k);
                digits.add(digits.get(x) + digits.get(y));
                return names.size() - 1;
            });
            for (List<Integer> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i) == x && s.get(i + 1) == y) {
                        s.set(i, z);
                        s.remove(i + 1);
                    }
                }
            }
        }
        return new Bpe(vocab, merges, List.copyOf(specialTokens));
    }

    /** Writes tokenizer.json (byte-level BPE, the special tokens as added tokens) into {@code dir}. */
    public static void write(Bpe bpe, Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String s : bpe.specialTokens()) {
            added.addObject()
                    .put("id", bpe.vocab().get(s))
                    .put("content", s)
                    .put("single_word", false)
                    .put("lstrip", false)
                    .put("rstrip", false)
                    .put("normalized", false)
                    .put("special", true);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(json, false, true));
        root.set("post_processor", byteLevel(json, true, false));
        root.set("decoder", byteLevel(json, true, true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        bpe.vocab().forEach(vocab::put);
        ArrayNode merges = model.putArray("merges");
        for (String[] m : bpe.merges()) {
            merges.addArray().add(m[0]).add(m[1]);
        }
        Files.createDirectories(dir);
        json.writeValue(dir.resolve("tokenizer.json").toFile(), root);
    }

    private static ObjectNode byteLevel(ObjectMapper json, boolean addPrefixSpace, boolean trimOffsets) {
        return json.createObjectNode()
                .put("type", "ByteLevel")
                .put("add_prefix_space", addPrefixSpace)
                .put("trim_offsets", trimOffsets)
                .put("use_regex", true);
    }

    private static String pairName(List<String> names, long pair) {
        return names.get((int) (pair >>> 32)) + "\u0000" + names.get((int) pair);
    }

    /** Byte values in the order GPT-2's bytes_to_unicode lists them: printable ones first. */
    private static int[] byteOrder() {
        int[] order = new int[256];
        int n = 0;
        boolean[] seen = new boolean[256];
        for (int[] range : new int[][] {{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}}) {
            for (int b = range[0]; b <= range[1]; b++) {
                order[n++] = b;
                seen[b] = true;
            }
        }
        for (int b = 0; b < 256; b++) {
            if (!seen[b]) {
                order[n++] = b;
            }
        }
        return order;
    }

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to code points from 256 on. */
    static String[] byteSymbols() {
        String[] out = new String[256];
        boolean[] printable = new boolean[256];
        for (int[] range : new int[][] {{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}}) {
            for (int b = range[0]; b <= range[1]; b++) {
                printable[b] = true;
            }
        }
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            out[b] = printable[b] ? String.valueOf((char) b) : String.valueOf((char) (256 + extra++));
        }
        return out;
    }
}
