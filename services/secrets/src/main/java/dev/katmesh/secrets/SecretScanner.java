package dev.katmesh.secrets;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finds secrets in a text with a list of rules and replaces each with {@code [REDACTED:<rule>]}. Where findings
 * overlap, the one starting first wins, then the longer, then the earlier rule; the others are dropped, so each
 * character is redacted once and a placeholder never lands inside another. Thread-safe.
 */
public final class SecretScanner {

    private static final Comparator<Finding> ORDER = Comparator.comparingInt(Finding::start)
            .thenComparing(Comparator.comparingInt(Finding::end).reversed());

    private final List<SecretRule> rules;
    private final List<SecretRule> searched = new ArrayList<>();
    private final KeywordIndex prefixed;
    private final List<String> order;

    public SecretScanner(List<SecretRule> rules) {
        this.rules = List.copyOf(rules);
        List<PatternRule> anchored = new ArrayList<>();
        for (SecretRule r : rules) {
            if (r instanceof PatternRule p && p.anchored()) {
                anchored.add(p);
            } else {
                searched.add(r);
            }
        }
        this.prefixed = new KeywordIndex(anchored);
        this.order = rules.stream().map(SecretRule::name).toList();
    }

    /** The built-in rules. */
    public static SecretScanner standard() {
        return new SecretScanner(SecretRules.builtIn());
    }

    public List<SecretRule> rules() {
        return rules;
    }

    /** A text with its secrets replaced, and what was found (spans in the original text). */
    public record Redacted(String text, List<Finding> findings) {}

    /** The secrets in {@code text}, in order, without overlaps. */
    public List<Finding> find(String text) {
        if (text == null || text.isEmpty()) {
            return List.of();
        }
        List<Finding> all = new ArrayList<>();
        prefixed.find(text, all::add); // the rules that start at a keyword: one pass for all of them
        for (SecretRule r : searched) {
            r.find(text, all::add);
        }
        if (all.size() <= 1) {
            return all;
        }
        all.sort(ORDER.thenComparingInt(f -> order.indexOf(f.rule())));
        List<Finding> kept = new ArrayList<>();
        for (Finding f : all) {
            if (kept.isEmpty() || !kept.get(kept.size() - 1).overlaps(f)) {
                kept.add(f);
            }
        }
        return kept;
    }

    /** {@code text} with each secret replaced by its placeholder. */
    public Redacted redact(String text) {
        List<Finding> found = find(text);
        if (found.isEmpty()) {
            return new Redacted(text, found);
        }
        StringBuilder out = new StringBuilder(text.length());
        int at = 0;
        for (Finding f : found) {
            out.append(text, at, f.start()).append(placeholder(f.rule()));
            at = f.end();
        }
        out.append(text, at, text.length());
        return new Redacted(out.toString(), found);
    }

    /** What a secret found by {@code rule} is replaced with. */
    public static String placeholder(String rule) {
        return "[REDACTED:" + rule + "]";
    }
}
