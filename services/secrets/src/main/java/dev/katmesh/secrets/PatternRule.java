package dev.katmesh.secrets;

import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A secret that a regular expression finds. The secret is the first capturing group that took part in the match,
 * or the whole match when the pattern has none (write other groups as {@code (?:...)}); {@code keywords}, when any,
 * are literals one of which every match contains, checked first (a substring search runs at GB/s, a pattern at
 * about 100 MB/s), so that most texts never run the pattern; {@code lookAlike}
 * keeps a matched value that only looks like a secret (a variable reference, a type name, a placeholder).
 */
public final class PatternRule implements SecretRule {

    private final String name;
    private final Pattern pattern;
    private final List<String> keywords;
    private final Predicate<String> lookAlike;
    private final boolean anchored;

    private PatternRule(
            String name, Pattern pattern, List<String> keywords, Predicate<String> lookAlike, boolean anchored) {
        this.name = Objects.requireNonNull(name, "name");
        this.pattern = Objects.requireNonNull(pattern, "pattern");
        this.keywords = List.copyOf(keywords);
        this.lookAlike = lookAlike == null ? v -> false : lookAlike;
        this.anchored = anchored && !keywords.isEmpty();
    }

    /** A pattern searched in the whole text, when one of {@code keywords} (if any) is in it. */
    public PatternRule(String name, Pattern pattern, List<String> keywords, Predicate<String> lookAlike) {
        this(name, pattern, keywords, lookAlike, false);
    }

    public PatternRule(String name, String regex, String... keywords) {
        this(name, Pattern.compile(regex), List.of(keywords), null, false);
    }

    /**
     * A pattern whose matches start with one of {@code keywords} (a key's prefix, such as {@code ghp_}): it is tried
     * only at each place one of them stands, so a text costs a substring search per keyword.
     */
    public static PatternRule prefixed(String name, Pattern pattern, Predicate<String> lookAlike, String... keywords) {
        return new PatternRule(name, pattern, List.of(keywords), lookAlike, true);
    }

    public static PatternRule prefixed(String name, String regex, String... keywords) {
        return prefixed(name, Pattern.compile(regex), null, keywords);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void find(String text, Consumer<Finding> out) {
        if (anchored) {
            for (String k : keywords) {
                for (int at = text.indexOf(k); at >= 0; at = text.indexOf(k, at + 1)) {
                    tryAt(text, at, out);
                }
            }
            return;
        }
        if (!keywords.isEmpty() && keywords.stream().noneMatch(text::contains)) {
            return;
        }
        Matcher m = pattern.matcher(text);
        while (m.find()) {
            report(m, out);
        }
    }

    /** Whether matches start at one of the keywords ({@link #prefixed}): then {@link #tryAt} finds them. */
    boolean anchored() {
        return anchored;
    }

    List<String> keywords() {
        return keywords;
    }

    /** The match starting at {@code at}, where one of the keywords stands, if any. */
    void tryAt(String text, int at, Consumer<Finding> out) {
        Matcher m = pattern.matcher(text);
        // bounds are transparent so that \\b and look-behinds see the text around the keyword
        m.useTransparentBounds(true).useAnchoringBounds(false).region(at, text.length());
        if (m.lookingAt()) {
            report(m, out);
        }
    }

    private void report(Matcher m, Consumer<Finding> out) {
        {
            int group = 0;
            for (int g = 1; g <= m.groupCount() && group == 0; g++) {
                if (m.start(g) >= 0) {
                    group = g;
                }
            }
            if (m.end(group) > m.start(group) && !lookAlike.test(m.group(group))) {
                out.accept(new Finding(name, m.start(group), m.end(group)));
            }
        }
    }

    @Override
    public String toString() {
        return name + "=" + pattern.pattern();
    }
}
