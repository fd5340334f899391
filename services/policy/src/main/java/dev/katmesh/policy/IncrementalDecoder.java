package dev.katmesh.policy;

import java.util.Arrays;

/**
 * The text of a growing list of generated tokens, kept up to date one token at a time without decoding the whole
 * list again (which made a long generation quadratic: 32 000 tokens decoded 32 000 times).
 *
 * <p>DESIGN. Decoding is additive only at token boundaries where the bytes so far form whole characters, and
 * some decoders treat the start of a text specially, so a new token is decoded together with a few tokens before
 * it: the text of {@code [prefix, read)} is known, the text of {@code [prefix, end)} is decoded, and the
 * difference is the new text. Once that difference is whole characters (no trailing U+FFFD) it is settled and the
 * window moves on. Should a decoder ever break that additivity, the whole list is decoded instead, so the text
 * always equals {@link PolicyTokenizer#decodeText} of all tokens.
 */
public final class IncrementalDecoder {

    private final PolicyTokenizer tokenizer;
    private int[] tokens = new int[16];
    private int count;
    private final StringBuilder settled = new StringBuilder(); // the text of tokens [0, read)
    private int prefix; // where the decoding window starts
    private int read; // tokens whose text is settled
    private String text = "";

    public IncrementalDecoder(PolicyTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Appends a token; returns the whole text now (its last characters may still change, e.g. a split U+FFFD). */
    public String add(int token) {
        if (count == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * count);
        }
        tokens[count++] = token;
        String before = tokenizer.decodeText(Arrays.copyOfRange(tokens, prefix, read));
        String now = tokenizer.decodeText(Arrays.copyOfRange(tokens, prefix, count));
        if (!now.startsWith(before)) { // not additive here: decode it all, and start the window afresh
            text = tokenizer.decodeText(Arrays.copyOf(tokens, count));
            if (!text.endsWith("\uFFFD")) {
                settled.setLength(0);
                settled.append(text);
                prefix = count;
                read = count;
            }
            return text;
        }
        String tail = now.substring(before.length());
        text = settled + tail;
        if (!tail.isEmpty() && !tail.endsWith("\uFFFD")) {
            settled.append(tail);
            prefix = read;
            read = count;
        }
        return text;
    }

    /** The text of every token added. */
    public String text() {
        return text;
    }

    /** The length of the text that can no longer change (whole characters of settled tokens). */
    public int settledLength() {
        return settled.length();
    }
}
