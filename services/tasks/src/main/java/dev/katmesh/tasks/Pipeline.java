package dev.katmesh.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * A pipeline task: a sequence (the integers of a list, the words of a string) taken at some positions, filtered,
 * mapped and reduced, each step one of a few named choices ({@link PipelineFamilies}). A held-out instance is a
 * combination no training task has, made of steps that training tasks name in other combinations: these families
 * ask for composition (words of the instruction to fragments of code), not for copying a literal.
 */
record Pipeline(Pipeline.Domain domain, Positions positions, Filter filter, MapStep map, Reducer reducer) {

    /** Where the steps apply: the family, solve's argument, the sequence's Python expression, its elements. */
    record Domain(
            String family,
            String argument,
            String sequence,
            String variable,
            String elements,
            String of,
            List<Positions> positions,
            List<Filter> filters,
            List<MapStep> maps,
            List<Reducer> reducers,
            Function<Random, Object> input) {}

    /** {@code slice} follows the sequence expression ("" or "[1::2]"). */
    record Positions(String words, String slice, int start, int step) {}

    /** {@code condition} is Python over the variable, null for no filter; {@code words} an adjective with its space. */
    record Filter(String words, String condition, Predicate<Object> test) {}

    record MapStep(String words, String expression, UnaryOperator<Object> f) {}

    /** {@code comprehension} wraps a generator expression ({@code %s}); {@code ofList} a list named ys. */
    record Reducer(String words, String comprehension, String ofList, Function<List<Object>, Object> f) {}

    String instruction() {
        return "Write solution.py with a function solve(" + domain.argument() + ") that returns " + reducer.words()
                + " of " + map.words() + "the " + filter.words() + domain.elements() + positions.words() + " of "
                + domain.of() + ".";
    }

    Object apply(List<Object> sequence) {
        List<Object> ys = new ArrayList<>();
        for (int i = positions.start(); i < sequence.size(); i += positions.step()) {
            if (filter.test().test(sequence.get(i))) {
                ys.add(map.f().apply(sequence.get(i)));
            }
        }
        return reducer.f().apply(ys);
    }

    /** Three ways to write it: a comprehension, a loop, map and filter. */
    List<String> references() {
        String v = domain.variable();
        String source = domain.sequence() + positions.slice();
        String def = "def solve(" + domain.argument() + "):\n";
        String cond = filter.condition() == null ? "" : " if " + filter.condition();
        String comprehension = def + "    return "
                + reducer.comprehension().formatted(map.expression() + " for " + v + " in " + source + cond) + "\n";
        String append = "ys.append(" + map.expression() + ")\n";
        String body = filter.condition() == null
                ? "        " + append
                : "        if " + filter.condition() + ":\n            " + append;
        String loop = def + "    ys = []\n    for " + v + " in " + source + ":\n" + body + "    return "
                + reducer.ofList() + "\n";
        String filtered = filter.condition() == null
                ? source
                : "filter(lambda " + v + ": " + filter.condition() + ", " + source + ")";
        String functional = def + "    ys = list(map(lambda " + v + ": " + map.expression() + ", " + filtered
                + "))\n    return " + reducer.ofList() + "\n";
        return List.of(comprehension, loop, functional);
    }

    /**
     * A plausible wrong pipeline that some input tells apart: the positions off by one (the first element they take
     * skipped: {@code [1:]}, {@code [2::2]}, {@code [3::2]}). Not a step of the vocabulary, on purpose: another
     * combination's code would be some other task's reference, and the teacher's mistakes would carry evaluation
     * references into the SFT data (the main job's overlap check found 14). Skipping an element is not always wrong
     * (a filtered-out first element changes nothing), so the probe inputs must tell them apart.
     */
    Pipeline wrong() {
        int start = positions.start() + positions.step();
        String slice = positions.step() == 1 ? "[" + start + ":]" : "[" + start + "::" + positions.step() + "]";
        Pipeline offByOne = new Pipeline(
                domain, new Positions(positions.words(), slice, start, positions.step()), filter, map, reducer);
        Random probe = new Random(17);
        for (int i = 0; i < 50; i++) {
            List<Object> xs = PipelineFamilies.elements(domain, domain.input().apply(probe));
            if (!apply(xs).equals(offByOne.apply(xs))) {
                return offByOne;
            }
        }
        throw new IllegalStateException("skipping the first element never changes " + instruction());
    }

    /** Visible and judged cases, drawn until each suite has a case the wrong pipeline gets wrong. */
    List<Templates.Case> cases(Random r, Pipeline wrong) {
        int visible = Templates.VISIBLE_CASES;
        for (int attempt = 0; attempt < 1000; attempt++) {
            List<Templates.Case> out = new ArrayList<>();
            boolean visibleCatches = false;
            boolean judgedCatches = false;
            for (int c = 0; c < visible + Templates.JUDGED_CASES; c++) {
                Object arg = domain.input().apply(r);
                List<Object> xs = PipelineFamilies.elements(domain, arg);
                Object expected = apply(xs);
                boolean catches = !expected.equals(wrong.apply(xs));
                visibleCatches |= c < visible && catches;
                judgedCatches |= c >= visible && catches;
                out.add(new Templates.Case(List.of(arg), expected));
            }
            if (visibleCatches && judgedCatches) {
                return out;
            }
        }
        throw new IllegalStateException("no cases tell " + wrong.instruction() + " from " + instruction());
    }

    /** A task of the domain's family: every step drawn from {@code r}. */
    static Variant make(Domain d, Random r) {
        Pipeline p = new Pipeline(
                d,
                d.positions().get(r.nextInt(d.positions().size())),
                d.filters().get(r.nextInt(d.filters().size())),
                d.maps().get(r.nextInt(d.maps().size())),
                d.reducers().get(r.nextInt(d.reducers().size())));
        Pipeline wrong = p.wrong();
        List<Templates.Case> cases = p.cases(r, wrong);
        return Templates.python(
                d.family(),
                "medium",
                p.instruction(),
                cases::get,
                p.references(),
                wrong.references().get(0));
    }
}
