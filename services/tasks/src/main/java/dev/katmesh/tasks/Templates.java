package dev.katmesh.tasks;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.TestHarness;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The task templates (families). Each draws its parameters from a random source and states them in the
 * instruction, so a family is one procedure with many instances: a held-out instance has parameters no
 * training task has (docs/tasks.md). Every task has visible tests (a file the agent may run) and judged
 * cases with other inputs, whose expected answers never enter the sandbox ({@link CaseJudge}).
 */
final class Templates {

    private Templates() {}

    record Template(String name, Function<Random, Variant> make) {}

    /** One test case: the arguments of solve (or a file's content, for shell tasks) and the expected answer. */
    record Case(List<Object> args, Object expected) {}

    static final int VISIBLE_CASES = 3;
    static final int JUDGED_CASES = 6;
    /** A judged suite's whole budget: its cases take milliseconds; a solution that sleeps is cut off at this. */
    static final int JUDGED_TIMEOUT_MS = 10_000;

    static final List<Template> ALL = List.of(
            new Template("offset-sum", Templates::offsetSum),
            new Template("count-char", Templates::countChar),
            new Template("fizzbuzz", Templates::fizzbuzz),
            new Template("fibonacci-mod", Templates::fibonacciMod),
            new Template("reverse-words", Templates::reverseWords),
            new Template("grep-count", Templates::grepCount),
            new Template("list-pipeline", PipelineFamilies::list),
            new Template("word-pipeline", PipelineFamilies::word));

    /** The families named, in the order given; every family for an empty list. */
    static List<Template> named(List<String> names) {
        if (names.isEmpty()) {
            return ALL;
        }
        List<Template> out = new ArrayList<>();
        for (String n : names) {
            out.add(ALL.stream()
                    .filter(t -> t.name().equals(n))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no task family '" + n + "'; the families are "
                            + ALL.stream().map(Template::name).toList())));
        }
        return List.copyOf(out);
    }

    /** A unittest file: one test method per visible case, each calling solve(*args). */
    static String pythonTests(List<Case> cases) {
        StringBuilder b = new StringBuilder(
                "import unittest\nfrom solution import solve\n\n\nclass SolutionTest(unittest.TestCase):\n");
        for (int i = 0; i < cases.size(); i++) {
            List<String> args = cases.get(i).args().stream().map(Py::lit).toList();
            b.append("    def test_")
                    .append(i)
                    .append("(self):\n        self.assertEqual(solve(")
                    .append(String.join(", ", args))
                    .append("), ")
                    .append(Py.lit(cases.get(i).expected()))
                    .append(")\n\n");
        }
        return b.append("\nif __name__ == '__main__':\n    unittest.main()\n").toString();
    }

    /** Cases 0..VISIBLE_CASES-1 are visible, the next JUDGED_CASES judged. */
    static Variant python(
            String template,
            String difficulty,
            String instruction,
            IntFunction<Case> cases,
            List<String> references,
            String wrong) {
        List<Case> visible = new ArrayList<>();
        List<Case> judged = new ArrayList<>();
        for (int c = 0; c < VISIBLE_CASES + JUDGED_CASES; c++) {
            (c < VISIBLE_CASES ? visible : judged).add(cases.apply(c));
        }
        TestSuite visibleSuite = TestSuite.newBuilder()
                .setName("visible")
                .addAllCommand(List.of("python3", "-m", "unittest", "-q", "test_solution"))
                .addFiles(file("test_solution.py", pythonTests(visible)))
                .setTimeoutMs(20_000)
                .setCaseCount(visible.size())
                .build();
        TestSuite.Builder judgedSuite = TestSuite.newBuilder()
                .setName("judged")
                .setHarness(TestHarness.TEST_HARNESS_PYTHON_CALL)
                .setEntry("solve")
                .setTimeoutMs(JUDGED_TIMEOUT_MS)
                .setCaseCount(judged.size());
        for (int i = 0; i < judged.size(); i++) {
            judgedSuite
                    .addCasesBuilder()
                    .setId("case-" + i)
                    .setArgsJson(Json.lit(judged.get(i).args()))
                    .setExpected(Json.lit(judged.get(i).expected()));
        }
        return new Variant(
                template,
                "python",
                "implement-function",
                difficulty,
                instruction,
                "solution.py",
                visibleSuite,
                judgedSuite.build(),
                references,
                wrong);
    }

    static Variant offsetSum(Random r) {
        int k = (1 + r.nextInt(999)) * (r.nextBoolean() ? 1 : -1); // never 0: the wrong solution must fail
        IntFunction<Case> cases = c -> {
            List<Integer> xs = new ArrayList<>();
            int n = c == 0 ? 0 : 1 + r.nextInt(6);
            long sum = 0;
            for (int i = 0; i < n; i++) {
                int x = r.nextInt(1000) - 500;
                xs.add(x);
                sum += x;
            }
            return new Case(List.of(xs), sum + k);
        };
        return python(
                "offset-sum",
                "easy",
                "Write solution.py with a function solve(xs) that returns the sum of the list of integers xs plus " + k
                        + ".",
                cases,
                List.of(
                        "def solve(xs):\n    return sum(xs) + (" + k + ")\n",
                        "def solve(xs):\n    total = " + k
                                + "\n    for x in xs:\n        total += x\n    return total\n",
                        "from functools import reduce\n\n\ndef solve(xs):\n    return reduce(lambda a, b: a + b, xs, "
                                + k + ")\n"),
                "def solve(xs):\n    return sum(xs)\n");
    }

    static Variant countChar(Random r) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        List<Character> pool = new ArrayList<>();
        alphabet.chars().forEach(ch -> pool.add((char) ch));
        Collections.shuffle(pool, r);
        int size = 1 + r.nextInt(3);
        List<Character> set = new ArrayList<>(pool.subList(0, size));
        Collections.sort(set); // 'hq' and 'qh' are one task
        StringBuilder chars = new StringBuilder();
        set.forEach(chars::append);
        String cs = chars.toString();
        String others = new String(new char[] {pool.get(3), pool.get(4), pool.get(5)});
        IntFunction<Case> cases = c -> {
            StringBuilder s = new StringBuilder();
            int n = 2 + r.nextInt(12);
            for (int i = 0; i < n; i++) {
                s.append(
                        r.nextBoolean()
                                ? cs.charAt(r.nextInt(cs.length()))
                                : others.charAt(r.nextInt(others.length())));
            }
            long count = s.chars().filter(x -> cs.indexOf(x) >= 0).count();
            return new Case(List.of(s.toString()), count);
        };
        String which = size == 1 ? "the character '" + cs + "'" : "one of the characters '" + cs + "'";
        return python(
                "count-char",
                "easy",
                "Write solution.py with a function solve(s) that returns how many characters of the string s are "
                        + which + ".",
                cases,
                List.of(
                        "def solve(s):\n    return sum(1 for c in s if c in '" + cs + "')\n",
                        "def solve(s):\n    n = 0\n    for c in s:\n        if c in '" + cs
                                + "':\n            n += 1\n    return n\n",
                        "def solve(s):\n    return len([c for c in s if c in '" + cs + "'])\n"),
                "def solve(s):\n    return sum(1 for c in s if c in '" + cs + "') + 1\n");
    }

    static Variant fizzbuzz(Random r) {
        int a = 2 + r.nextInt(8);
        int b = a + 1 + r.nextInt(9);
        List<String> words = new ArrayList<>(List.of("Fizz", "Buzz", "Bang", "Pop", "Zap", "Boom", "Tick", "Whiz"));
        Collections.shuffle(words, r);
        String w1 = words.get(0);
        String w2 = words.get(1);
        int[] ns = {
            1, a * b, b, a, a * b + 1, 2 * b + r.nextInt(10), 10 + r.nextInt(30), 5 + r.nextInt(20), 30 + r.nextInt(40)
        };
        IntFunction<Case> cases = c -> {
            List<String> out = new ArrayList<>();
            for (int i = 1; i <= ns[c]; i++) {
                String s = (i % a == 0 ? w1 : "") + (i % b == 0 ? w2 : "");
                out.add(s.isEmpty() ? String.valueOf(i) : s);
            }
            return new Case(List.of(ns[c]), out);
        };
        return python(
                "fizzbuzz",
                "medium",
                "Write solution.py with a function solve(n) that returns a list of strings for 1..n: '" + w1
                        + "' for multiples of " + a + ", '" + w2 + "' for multiples of " + b + ", '" + w1 + w2
                        + "' for multiples of both, otherwise the number.",
                cases,
                List.of(
                        "def solve(n):\n    out = []\n    for i in range(1, n + 1):\n        s = ''\n        if i % "
                                + a + " == 0:\n            s += '" + w1 + "'\n        if i % " + b
                                + " == 0:\n            s += '" + w2
                                + "'\n        out.append(s or str(i))\n    return out\n",
                        "def solve(n):\n    return [('" + w1 + "' if i % " + a + " == 0 else '') + ('" + w2
                                + "' if i % " + b + " == 0 else '') or str(i) for i in range(1, n + 1)]\n"),
                "def solve(n):\n    return [('" + w1 + "' if i % " + a + " == 0 else '" + w2 + "' if i % " + b
                        + " == 0 else str(i)) for i in range(1, n + 1)]\n");
    }

    static Variant fibonacciMod(Random r) {
        int m = 7 + r.nextInt(9993);
        int[] ns = {
            0,
            1,
            10 + r.nextInt(10),
            2,
            3 + r.nextInt(5),
            20 + r.nextInt(20),
            50 + r.nextInt(50),
            100 + r.nextInt(100),
            8 + r.nextInt(4)
        };
        IntFunction<Case> cases = c -> {
            long x = 0;
            long y = 1;
            for (int i = 0; i < ns[c]; i++) {
                long t = (x + y) % m;
                x = y;
                y = t;
            }
            return new Case(List.of(ns[c]), x % m);
        };
        return python(
                "fibonacci-mod",
                "medium",
                "Write solution.py with a function solve(n) that returns the n-th Fibonacci number modulo " + m
                        + " (F(0) = 0, F(1) = 1).",
                cases,
                List.of(
                        "def solve(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % " + m
                                + "\n    return a % " + m + "\n",
                        "def solve(n):\n    a, b = 0, 1\n    i = 0\n    while i < n:\n       "
                                + " a, b = b, a + b\n        i += 1\n    return a % "
                                + m + "\n"),
                "def solve(n):\n    a, b = 0, 1\n    for _ in range(n + 1):\n        a, b = b, (a + b) % " + m
                        + "\n    return a\n");
    }

    static Variant reverseWords(Random r) {
        String marks = "-_|:;,.+*#@/";
        StringBuilder sep = new StringBuilder();
        int len = 1 + r.nextInt(3);
        for (int i = 0; i < len; i++) {
            sep.append(marks.charAt(r.nextInt(marks.length())));
        }
        String[] vocab = {
            "alpha", "beta", "gamma", "delta", "code", "agent", "test", "patch", "tree", "kafka", "river", "stone"
        };
        IntFunction<Case> cases = c -> {
            int n = c == 0 ? 2 : 1 + r.nextInt(5);
            List<String> ws = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String w = vocab[r.nextInt(vocab.length)];
                if (c == 0 && i == 1 && w.equals(ws.get(0))) {
                    w = w + "s"; // two different words: the unreversed join must fail
                }
                ws.add(w);
            }
            List<String> rev = new ArrayList<>(ws);
            Collections.reverse(rev);
            return new Case(List.of(String.join(c % 3 == 2 ? "  " : " ", ws)), String.join(sep, rev));
        };
        String s = Py.lit(sep.toString());
        return python(
                "reverse-words",
                "easy",
                "Write solution.py with a function solve(s) that returns the words of s in reverse order, joined by "
                        + s + ".",
                cases,
                List.of(
                        "def solve(s):\n    return " + s + ".join(reversed(s.split()))\n",
                        "def solve(s):\n    words = s.split()\n    words.reverse()\n    return " + s
                                + ".join(words)\n"),
                "def solve(s):\n    return " + s + ".join(s.split())\n");
    }

    /** The text every grep-count input holds besides its words: a drawn word inside it would match every line. */
    static final String GREP_FIXED_TEXT = "header without the word\nline ";

    static Variant grepCount(Random r) {
        String word;
        do {
            StringBuilder w = new StringBuilder();
            int len = 4 + r.nextInt(3);
            for (int i = 0; i < len; i++) {
                w.append((char) ('a' + r.nextInt(26)));
            }
            word = w.toString();
        } while (GREP_FIXED_TEXT.contains(word));
        String[] vocab = {"error", "warning", "info", "debug", "fatal", "trace", "notice"};
        List<String[]> inputs = new ArrayList<>(); // (input.txt, expected count)
        for (int c = 0; c < 1 + JUDGED_CASES; c++) {
            StringBuilder input = new StringBuilder("header without the word\n"); // so counting all lines is wrong
            int lines = c == 0 ? 3 : r.nextInt(8);
            int hits = 0;
            for (int i = 0; i < lines; i++) {
                boolean hit = r.nextInt(3) == 0;
                String other = vocab[r.nextInt(vocab.length)];
                input.append("line ")
                        .append(i)
                        .append(' ')
                        .append(hit ? word : other.contains(word) ? "x" : other)
                        .append('\n');
                hits += hit ? 1 : 0;
            }
            inputs.add(new String[] {input.toString(), Integer.toString(hits)});
        }
        StringBuilder test = new StringBuilder(
                "#!/bin/sh\n# Runs solution.sh on an example input.txt and compares its output.\nfail=0\n");
        String[] example = inputs.get(0);
        test.append("printf '")
                .append(example[0].replace("\n", "\\n"))
                .append("' > input.txt\n")
                .append("out=$(sh solution.sh)\n")
                .append("if [ \"$out\" = \"")
                .append(example[1])
                .append("\" ]; then echo ok; else echo \"FAIL: expected ")
                .append(example[1])
                .append(", got $out\"; fail=1; fi\nexit $fail\n");
        TestSuite visible = TestSuite.newBuilder()
                .setName("visible")
                .addAllCommand(List.of("sh", "test_solution.sh"))
                .addFiles(file("test_solution.sh", test.toString()))
                .setTimeoutMs(20_000)
                .setCaseCount(1)
                .build();
        TestSuite.Builder judged = TestSuite.newBuilder()
                .setName("judged")
                .setHarness(TestHarness.TEST_HARNESS_STDOUT)
                .addAllCommand(List.of("sh", "solution.sh"))
                .setTimeoutMs(JUDGED_TIMEOUT_MS)
                .setCaseCount(JUDGED_CASES);
        for (int c = 1; c < inputs.size(); c++) {
            judged.addCasesBuilder()
                    .setId("case-" + (c - 1))
                    .addFiles(file("input.txt", inputs.get(c)[0]))
                    .setExpected(inputs.get(c)[1]);
        }
        return new Variant(
                "grep-count",
                "bash",
                "shell-utility",
                "easy",
                "Write solution.sh, a POSIX shell script that prints how many lines of input.txt contain the word '"
                        + word + "'.",
                "solution.sh",
                visible,
                judged.build(),
                List.of(
                        "grep -c '" + word + "' input.txt || true\n",
                        "awk '/" + word + "/ { n++ } END { print n + 0 }' input.txt\n"),
                "wc -l < input.txt\n");
    }

    static WorkspaceFile file(String path, String content) {
        return WorkspaceFile.newBuilder()
                .setPath(path)
                .setContent(ByteString.copyFrom(content, StandardCharsets.UTF_8))
                .build();
    }
}
