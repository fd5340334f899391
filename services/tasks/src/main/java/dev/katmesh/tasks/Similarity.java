package dev.katmesh.tasks;

/**
 * How close a piece of work is to a ground truth, in two forms, over the normalised texts (trailing spaces
 * dropped, line endings unified, blank lines removed), each compared on its first {@value #MAX_CHARS} characters
 * to bound the cost:
 *
 * <pre>
 *   absolute     similarity  = 1 − lev(x, ref) / max(|x|, |ref|)               in [0, 1]
 *   relative     discrepancy = lev(x, ref) / max(1, lev(start, ref))           0 at the reference, 1 where it started
 * </pre>
 *
 * The relative form (KAT-Coder's "relative discrepancy from the closest ground truth", our reconstruction:
 * docs/algorithms.md) measures what is left of the way from the task's starting text to the reference, so a
 * one-line fix and a whole new file are judged on one scale; above 1 is farther from the reference than the start.
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

    /** {@code x}'s remaining distance to {@code reference}, relative to {@code start}'s (the task's starting text). */
    public static double discrepancy(String x, String reference, String start) {
        String ref = normalise(reference);
        int whole = Math.max(1, levenshtein(normalise(start), ref));
        return (double) levenshtein(normalise(x), ref) / whole;
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
