package dev.katmesh.tasks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The two pipeline families ({@link Pipeline}): {@code list-pipeline} over the integers of a list and
 * {@code word-pipeline} over the words of a string, 3 × 6 × 7 × 6 = 756 instructions each.
 */
final class PipelineFamilies {

    private PipelineFamilies() {}

    static final List<Pipeline.Positions> POSITIONS = List.of(
            new Pipeline.Positions("", "", 0, 1),
            new Pipeline.Positions(" at even positions", "[::2]", 0, 2),
            new Pipeline.Positions(" at odd positions", "[1::2]", 1, 2));

    static final Pipeline.Domain LIST = new Pipeline.Domain(
            "list-pipeline",
            "xs",
            "xs",
            "x",
            "integers",
            "the list xs",
            POSITIONS,
            List.of(
                    new Pipeline.Filter("", null, x -> true),
                    new Pipeline.Filter("even ", "x % 2 == 0", x -> (long) x % 2 == 0),
                    new Pipeline.Filter("odd ", "x % 2 == 1", x -> Math.floorMod((long) x, 2) == 1),
                    new Pipeline.Filter("positive ", "x > 0", x -> (long) x > 0),
                    new Pipeline.Filter("negative ", "x < 0", x -> (long) x < 0),
                    new Pipeline.Filter("nonzero ", "x != 0", x -> (long) x != 0)),
            List.of(
                    new Pipeline.MapStep("", "x", x -> x),
                    new Pipeline.MapStep("the squares of ", "x * x", x -> (long) x * (long) x),
                    new Pipeline.MapStep("the doubles of ", "2 * x", x -> 2 * (long) x),
                    new Pipeline.MapStep("the negations of ", "-x", x -> -(long) x),
                    new Pipeline.MapStep("the absolute values of ", "abs(x)", x -> Math.abs((long) x)),
                    new Pipeline.MapStep("the cubes of ", "x * x * x", x -> (long) x * (long) x * (long) x),
                    new Pipeline.MapStep("the successors of ", "x + 1", x -> (long) x + 1)),
            List.of(
                    new Pipeline.Reducer(
                            "the sum",
                            "sum(%s)",
                            "sum(ys)",
                            ys -> longs(ys).stream().mapToLong(Long::longValue).sum()),
                    new Pipeline.Reducer(
                            "the maximum (0 when there are none)",
                            "max((%s), default=0)",
                            "max(ys) if ys else 0",
                            ys -> longs(ys).stream()
                                    .mapToLong(Long::longValue)
                                    .max()
                                    .orElse(0)),
                    new Pipeline.Reducer(
                            "the minimum (0 when there are none)",
                            "min((%s), default=0)",
                            "min(ys) if ys else 0",
                            ys -> longs(ys).stream()
                                    .mapToLong(Long::longValue)
                                    .min()
                                    .orElse(0)),
                    new Pipeline.Reducer("the list, in order,", "[%s]", "ys", ys -> ys),
                    new Pipeline.Reducer(
                            "the sorted list",
                            "sorted(%s)",
                            "sorted(ys)",
                            ys -> longs(ys).stream().sorted().toList()),
                    new Pipeline.Reducer(
                            "the reversed list",
                            "list(reversed([%s]))",
                            "list(reversed(ys))",
                            PipelineFamilies::reversed)),
            r -> {
                List<Integer> xs = new ArrayList<>();
                int n = r.nextInt(9);
                for (int i = 0; i < n; i++) {
                    xs.add(r.nextInt(19) - 9);
                }
                return xs;
            });

    /** Words with both cases, short and long, plural (ending in s) and not. */
    static final List<String> WORDS = List.of(
            "Apple", "cat", "dogs", "Tree", "sun", "Rivers", "io", "moon", "Stars", "ox", "bird", "Lamps", "sea", "key",
            "Hills", "fox", "Rain", "cups", "at", "Wind", "Maps", "owl", "pen", "Rocks", "ant", "Snow", "jam", "Boats",
            "egg", "Nets");

    static final Pipeline.Domain WORD = new Pipeline.Domain(
            "word-pipeline",
            "s",
            "s.split()",
            "w",
            "words",
            "the string s (words separated by spaces)",
            POSITIONS,
            List.of(
                    new Pipeline.Filter("", null, w -> true),
                    new Pipeline.Filter("capitalized ", "w[0].isupper()", w -> Character.isUpperCase(str(w).charAt(0))),
                    new Pipeline.Filter(
                            "lower-case ", "w.islower()", w -> str(w).equals(str(w).toLowerCase(Locale.ROOT))),
                    new Pipeline.Filter("long (over three letters) ", "len(w) > 3", w -> str(w).length() > 3),
                    new Pipeline.Filter("short (at most three letters) ", "len(w) <= 3", w -> str(w).length() <= 3),
                    new Pipeline.Filter("plural (ending in s) ", "w.endswith('s')", w -> str(w).endsWith("s"))),
            List.of(
                    new Pipeline.MapStep("", "w", w -> w),
                    new Pipeline.MapStep("the upper-case forms of ", "w.upper()", w -> str(w).toUpperCase(Locale.ROOT)),
                    new Pipeline.MapStep("the lower-case forms of ", "w.lower()", w -> str(w).toLowerCase(Locale.ROOT)),
                    new Pipeline.MapStep(
                            "the reversals of ",
                            "w[::-1]",
                            w -> new StringBuilder(str(w)).reverse().toString()),
                    new Pipeline.MapStep("the first letters of ", "w[0]", w -> str(w).substring(0, 1)),
                    new Pipeline.MapStep("the doublings of ", "w + w", w -> str(w) + str(w)),
                    new Pipeline.MapStep(
                            "the capitalizations of ",
                            "w.capitalize()",
                            w -> str(w).substring(0, 1).toUpperCase(Locale.ROOT)
                                    + str(w).substring(1).toLowerCase(Locale.ROOT))),
            List.of(
                    new Pipeline.Reducer("the list, in order,", "[%s]", "ys", ys -> ys),
                    new Pipeline.Reducer(
                            "the sorted list",
                            "sorted(%s)",
                            "sorted(ys)",
                            ys -> ys.stream()
                                    .map(PipelineFamilies::str)
                                    .sorted()
                                    .toList()),
                    new Pipeline.Reducer(
                            "the reversed list",
                            "list(reversed([%s]))",
                            "list(reversed(ys))",
                            PipelineFamilies::reversed),
                    new Pipeline.Reducer(
                            "the space-joined string", "' '.join(%s)", "' '.join(ys)", ys -> join(ys, " ")),
                    new Pipeline.Reducer(
                            "the comma-joined string", "','.join(%s)", "','.join(ys)", ys -> join(ys, ",")),
                    new Pipeline.Reducer("the concatenation", "''.join(%s)", "''.join(ys)", ys -> join(ys, ""))),
            r -> {
                List<String> ws = new ArrayList<>();
                int n = 1 + r.nextInt(8);
                for (int i = 0; i < n; i++) {
                    ws.add(WORDS.get(r.nextInt(WORDS.size())));
                }
                return String.join(" ", ws);
            });

    static Variant list(Random r) {
        return Pipeline.make(LIST, r);
    }

    static Variant word(Random r) {
        return Pipeline.make(WORD, r);
    }

    /** The sequence a solve argument holds: a list's integers as longs, a string's words. */
    static List<Object> elements(Pipeline.Domain d, Object argument) {
        if (argument instanceof String s) {
            return s.isEmpty() ? List.of() : new ArrayList<>(Arrays.asList((Object[]) s.split(" ")));
        }
        List<Object> out = new ArrayList<>();
        for (Object x : (List<?>) argument) {
            out.add(((Number) x).longValue());
        }
        return out;
    }

    private static String str(Object o) {
        return (String) o;
    }

    private static List<Long> longs(List<Object> ys) {
        return ys.stream().map(y -> (Long) y).toList();
    }

    private static Object reversed(List<Object> ys) {
        List<Object> out = new ArrayList<>(ys);
        Collections.reverse(out);
        return out;
    }

    private static Object join(List<Object> ys, String separator) {
        return String.join(separator, ys.stream().map(PipelineFamilies::str).toList());
    }
}
