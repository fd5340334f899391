package dev.katmesh.tasks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;
import java.util.function.LongUnaryOperator;

/**
 * The {@code list-pipeline} family: a list of integers taken at some positions, filtered, mapped and reduced,
 * each step drawn from a few named choices (3 × 6 × 7 × 6 = 756 instructions). A held-out instance is a
 * combination no training task has, made of steps every training task names in other combinations: the
 * family asks for composition (words of the instruction to fragments of code), not for copying a literal, so
 * it is one a small model can learn as a procedure (docs/tasks.md).
 */
final class ListPipeline {

    private ListPipeline() {}

    record Positions(String words, String slice, int start, int step) {}

    record Filter(String word, String condition, IntPredicate test) {}

    record MapStep(String words, String expression, LongUnaryOperator f) {}

    record Reducer(String words, String comprehension, String ofList) {}

    static final List<Positions> POSITIONS = List.of(
            new Positions("", "xs", 0, 1),
            new Positions(" at even positions", "xs[::2]", 0, 2),
            new Positions(" at odd positions", "xs[1::2]", 1, 2));

    static final List<Filter> FILTERS = List.of(
            new Filter("", null, x -> true),
            new Filter("even ", "x % 2 == 0", x -> x % 2 == 0),
            new Filter("odd ", "x % 2 == 1", x -> Math.floorMod(x, 2) == 1),
            new Filter("positive ", "x > 0", x -> x > 0),
            new Filter("negative ", "x < 0", x -> x < 0),
            new Filter("nonzero ", "x != 0", x -> x != 0));

    static final List<MapStep> MAPS = List.of(
            new MapStep("", "x", x -> x),
            new MapStep("the squares of ", "x * x", x -> x * x),
            new MapStep("the doubles of ", "2 * x", x -> 2 * x),
            new MapStep("the negations of ", "-x", x -> -x),
            new MapStep("the absolute values of ", "abs(x)", Math::abs),
            new MapStep("the cubes of ", "x * x * x", x -> x * x * x),
            new MapStep("the successors of ", "x + 1", x -> x + 1));

    /** {@code comprehension} wraps a generator expression ({@code %s}); {@code ofList} a list named ys. */
    static final List<Reducer> REDUCERS = List.of(
            new Reducer("the sum", "sum(%s)", "sum(ys)"),
            new Reducer("the maximum (0 when there are none)", "max((%s), default=0)", "max(ys) if ys else 0"),
            new Reducer("the minimum (0 when there are none)", "min((%s), default=0)", "min(ys) if ys else 0"),
            new Reducer("the list, in order,", "[%s]", "ys"),
            new Reducer("the sorted list", "sorted(%s)", "sorted(ys)"),
            new Reducer("the reversed list", "list(reversed([%s]))", "list(reversed(ys))"));

    record Pipeline(Positions positions, Filter filter, MapStep map, Reducer reducer) {

        String instruction() {
            return "Write solution.py with a function solve(xs) that returns " + reducer.words() + " of " + map.words()
                    + "the " + filter.word() + "integers" + positions.words() + " of the list xs.";
        }

        Object apply(List<Integer> xs) {
            List<Long> ys = new ArrayList<>();
            for (int i = positions.start(); i < xs.size(); i += positions.step()) {
                if (filter.test().test(xs.get(i))) {
                    ys.add(map.f().applyAsLong(xs.get(i)));
                }
            }
            return switch (REDUCERS.indexOf(reducer)) {
                case 0 -> ys.stream().mapToLong(Long::longValue).sum();
                case 1 -> ys.stream().mapToLong(Long::longValue).max().orElse(0);
                case 2 -> ys.stream().mapToLong(Long::longValue).min().orElse(0);
                case 3 -> ys;
                case 4 -> ys.stream().sorted().toList();
                case 5 -> {
                    Collections.reverse(ys);
                    yield ys;
                }
                default -> throw new IllegalStateException(reducer.words());
            };
        }

        /** Three ways to write it: a comprehension, a loop, map and filter. */
        List<String> references() {
            String cond = filter.condition() == null ? "" : " if " + filter.condition();
            String gen = map.expression() + " for x in " + positions.slice() + cond;
            String comprehension =
                    "def solve(xs):\n    return " + reducer.comprehension().formatted(gen) + "\n";
            String body = filter.condition() == null
                    ? "        ys.append(" + map.expression() + ")\n"
                    : "        if " + filter.condition() + ":\n            ys.append(" + map.expression() + ")\n";
            String loop = "def solve(xs):\n    ys = []\n    for x in " + positions.slice() + ":\n" + body
                    + "    return " + reducer.ofList() + "\n";
            String filtered = filter.condition() == null
                    ? positions.slice()
                    : "filter(lambda x: " + filter.condition() + ", " + positions.slice() + ")";
            String functional = "def solve(xs):\n    ys = list(map(lambda x: " + map.expression() + ", " + filtered
                    + "))\n    return " + reducer.ofList() + "\n";
            return List.of(comprehension, loop, functional);
        }

        /**
         * A plausible wrong pipeline that some input tells apart: a step dropped (positions, filter, map, in that
         * order) or another reducer. Dropping is not always wrong (without zeros a sum is the same), so each
         * candidate is tried on probe inputs.
         */
        Pipeline wrong() {
            List<Pipeline> candidates = new ArrayList<>();
            candidates.add(new Pipeline(POSITIONS.get(0), filter, map, reducer));
            candidates.add(new Pipeline(positions, FILTERS.get(0), map, reducer));
            candidates.add(new Pipeline(positions, filter, MAPS.get(0), reducer));
            for (int k = 1; k < REDUCERS.size(); k++) {
                candidates.add(new Pipeline(
                        positions, filter, map, REDUCERS.get((REDUCERS.indexOf(reducer) + k) % REDUCERS.size())));
            }
            Random probe = new Random(17);
            List<List<Integer>> inputs = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                inputs.add(randomList(probe, 2 + probe.nextInt(7)));
            }
            for (Pipeline c : candidates) {
                if (inputs.stream().anyMatch(xs -> !apply(xs).equals(c.apply(xs)))) {
                    return c;
                }
            }
            throw new IllegalStateException("no wrong pipeline differs from " + instruction());
        }
    }

    static List<Integer> randomList(Random r, int n) {
        List<Integer> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            xs.add(r.nextInt(19) - 9);
        }
        return xs;
    }

    static Variant make(Random r) {
        Pipeline p = new Pipeline(
                POSITIONS.get(r.nextInt(POSITIONS.size())),
                FILTERS.get(r.nextInt(FILTERS.size())),
                MAPS.get(r.nextInt(MAPS.size())),
                REDUCERS.get(r.nextInt(REDUCERS.size())));
        Pipeline wrong = p.wrong();
        List<Templates.Case> cases = cases(r, p, wrong);
        return Templates.python(
                "list-pipeline",
                "medium",
                p.instruction(),
                cases::get,
                p.references(),
                wrong.references().get(0));
    }

    /** Visible and judged cases, drawn until each suite has a case the wrong pipeline gets wrong. */
    static List<Templates.Case> cases(Random r, Pipeline p, Pipeline wrong) {
        int visible = Templates.VISIBLE_CASES;
        int all = visible + Templates.JUDGED_CASES;
        for (int attempt = 0; attempt < 1000; attempt++) {
            List<Templates.Case> out = new ArrayList<>();
            boolean visibleCatches = false;
            boolean judgedCatches = false;
            for (int c = 0; c < all; c++) {
                List<Integer> xs = randomList(r, c == 0 ? 0 : 2 + r.nextInt(7));
                Object expected = p.apply(xs);
                boolean catches = !expected.equals(wrong.apply(xs));
                visibleCatches |= c < visible && catches;
                judgedCatches |= c >= visible && catches;
                out.add(new Templates.Case(List.of(xs), expected));
            }
            if (visibleCatches && judgedCatches) {
                return out;
            }
        }
        throw new IllegalStateException("no cases tell " + wrong.instruction() + " from " + p.instruction());
    }
}
