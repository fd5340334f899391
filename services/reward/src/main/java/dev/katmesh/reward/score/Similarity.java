package dev.katmesh.reward.score;

/**
 * How close an answer is to a reference: 1 − Levenshtein(a, b) / max(|a|, |b|) over the normalised
 * texts (trailing spaces dropped, line endings unified, blank lines removed), in [0, 1]. Texts are
 * compared on their first {@value #MAX_CHARS} characters to bound the cost.
 */
public final class Similarity {

    static final int MAX_CHARS = 20_000;

    private Similarity() {}

    public static double of(String a, String b) {
        String x = normalise(a);
        String y = normalise(b);
        int max = Math.max(x.length(), y.length());
        return max == 0 ? 1.0 : 1.0 - (double) levenshtein(x, y) / max;
    }

    static String normalise(String s) {
        StringBuilder out = new StringBuilder();
        for (String line : s.replace("\r\n", "\n").split("\n")) {
            String t = line.stripTrailing();
            if (!t.isEmpty()) {
                out.append(t).append('\n');
            }
        }
        return out.length() > MAX_CHARS ? out.substring(0, MAX_CHARS) : out.toString();
    }

    static int levenshtein(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            char c = a.charAt(i - 1);
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (c == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
