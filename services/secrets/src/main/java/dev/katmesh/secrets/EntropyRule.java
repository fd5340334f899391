package dev.katmesh.secrets;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.function.Consumer;

/**
 * Random-looking tokens that no format rule names: runs of 20-128 base64/base64url characters with upper and
 * lower case letters and a digit, whose characters are as varied as random ones (Shannon entropy per character,
 * a threshold per length a little below the 1st percentile of random base62 strings of that length) and which
 * change character class as often as random ones (identifiers such as {@code Qwen3ForCausalLM_layers_27} are
 * as varied but change class about a third as often). Kept as look-alikes: hex (hashes, commit ids, UUIDs have no
 * mixed case), subresource-integrity hashes ({@code sha512-...}), crypt hashes ({@code $2b$12$...}: a token right
 * after a {@code $}), paths, and base64 that decodes to text (encoded
 * code or configuration is data, not a credential). Runs longer than 128 characters are data (a key body is found
 * by its block rule).
 */
final class EntropyRule implements SecretRule {

    static final String NAME = "high-entropy";
    private static final int MIN = 20;
    private static final int MAX = 128;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void find(String text, Consumer<Finding> out) {
        int n = text.length();
        int i = 0;
        while (i < n) {
            if (!tokenChar(text.charAt(i))) {
                i++;
                continue;
            }
            int start = i;
            while (i < n && tokenChar(text.charAt(i))) {
                i++;
            }
            while (i < n && i - start < MAX + 2 && text.charAt(i) == '=') { // base64 padding ends a token
                i++;
            }
            int end = i;
            // a run glued to a word character that is not a token character (e.g. "é") is part of a longer word
            if (end - start >= MIN && end - start <= MAX && random(text, start, end)) {
                out.accept(new Finding(NAME, start, end));
            }
        }
    }

    private static final boolean[] TOKEN = new boolean[128];

    static {
        for (char c = 0; c < 128; c++) {
            TOKEN[c] = (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '+'
                    || c == '/'
                    || c == '_'
                    || c == '-';
        }
    }

    private static boolean tokenChar(char c) {
        return c < 128 && TOKEN[c];
    }

    static boolean random(String text, int start, int end) {
        // the character classes first, in place: most runs (identifiers, words) end here without an allocation
        boolean upper = false;
        boolean lower = false;
        boolean digit = false;
        int pairs = 0;
        int changes = 0;
        int last = -1;
        for (int k = start; k < end; k++) {
            char c = text.charAt(k);
            int cls = c >= 'A' && c <= 'Z' ? 0 : c >= 'a' && c <= 'z' ? 1 : c >= '0' && c <= '9' ? 2 : -1;
            upper |= cls == 0;
            lower |= cls == 1;
            digit |= cls == 2;
            if (cls >= 0 && last >= 0) {
                pairs++;
                changes += cls != last ? 1 : 0;
            }
            last = cls;
        }
        if (!(upper && lower && digit) || pairs == 0 || changes < 0.38 * pairs) {
            return false;
        }
        String s = text.substring(start, end);
        if (integrityHash(s) || (start > 0 && text.charAt(start - 1) == '$') || path(s) || wordy(s)) {
            return false;
        }
        int[] counts = new int[128];
        for (int k = 0; k < s.length(); k++) {
            counts[s.charAt(k)]++;
        }
        return entropy(counts, s.length()) >= threshold(s.length()) && !base64OfText(s);
    }

    /**
     * Mostly lower-case words of 3+ letters, as in {@code logitsMatchWithin1e4ForAllThreePrompts}: above the 99th
     * percentile of random base62 strings of the length.
     */
    static boolean wordy(String s) {
        int inWords = 0;
        int run = 0;
        for (int k = 0; k <= s.length(); k++) {
            if (k < s.length() && Character.isLowerCase(s.charAt(k))) {
                run++;
            } else {
                inWords += run >= 3 ? run : 0;
                run = 0;
            }
        }
        return inWords > (s.length() < 32 ? 0.55 : 0.44) * s.length();
    }

    /** Bits per character below which a string of this length is not random-looking. */
    static double threshold(int length) {
        if (length < 24) {
            return 3.5;
        }
        if (length < 32) {
            return 3.7;
        }
        if (length < 48) {
            return 4.0;
        }
        return length < 64 ? 4.3 : 4.6;
    }

    static double entropy(int[] counts, int n) {
        double h = 0;
        for (int c : counts) {
            if (c > 0) {
                double p = (double) c / n;
                h -= p * Math.log(p) / Math.log(2);
            }
        }
        return h;
    }

    /** {@code sha256-...}, {@code sha384-...}, {@code sha512-...} (npm lockfiles, HTML integrity attributes). */
    private static boolean integrityHash(String s) {
        return s.startsWith("sha1-") || s.startsWith("sha256-") || s.startsWith("sha384-") || s.startsWith("sha512-");
    }

    /** Two or more {@code /}-separated parts that are words: a path, not a token. */
    private static boolean path(String s) {
        if (s.indexOf('/') < 0) {
            return false;
        }
        int words = 0;
        for (String part : s.split("/")) {
            if (part.length() >= 3 && part.chars().allMatch(c -> Character.isLowerCase(c) || c == '-' || c == '_')) {
                words++;
            }
        }
        return words >= 2;
    }

    /** Base64 (standard or URL-safe) whose bytes are printable UTF-8 text. */
    private static boolean base64OfText(String s) {
        byte[] bytes;
        try {
            String unpadded = s.replace("=", "");
            bytes = (s.indexOf('-') >= 0 || s.indexOf('_') >= 0 ? Base64.getUrlDecoder() : Base64.getDecoder())
                    .decode(unpadded);
        } catch (IllegalArgumentException e) {
            return false;
        }
        String decoded;
        try {
            decoded = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            return false;
        }
        long printable = decoded.codePoints()
                .filter(c -> c == '\n' || c == '\t' || c == '\r' || (c >= 0x20 && c != 0x7f))
                .count();
        return !decoded.isEmpty() && printable == decoded.codePoints().count();
    }
}
