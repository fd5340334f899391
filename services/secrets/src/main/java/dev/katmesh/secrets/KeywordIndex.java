package dev.katmesh.secrets;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The keywords of every rule whose matches start at one ({@code gh}, {@code AKIA}, {@code sk-}, ...), each searched
 * once for all the rules that share it ({@code sk-} for the Anthropic and OpenAI keys): a substring search runs at
 * several GB/s, faster than any per-character pass written in Java (measured: a pass comparing two characters a
 * position ran at a tenth of it), and the rules' patterns run only where their keyword stands.
 */
final class KeywordIndex {

    private final Map<String, List<PatternRule>> byKeyword = new LinkedHashMap<>();

    KeywordIndex(List<PatternRule> rules) {
        for (PatternRule r : rules) {
            for (String k : r.keywords()) {
                byKeyword.computeIfAbsent(k, x -> new ArrayList<>()).add(r);
            }
        }
    }

    void find(String text, Consumer<Finding> out) {
        for (Map.Entry<String, List<PatternRule>> e : byKeyword.entrySet()) {
            String k = e.getKey();
            for (int at = text.indexOf(k); at >= 0; at = text.indexOf(k, at + 1)) {
                for (PatternRule r : e.getValue()) {
                    r.tryAt(text, at, out);
                }
            }
        }
    }
}
