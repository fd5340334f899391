package dev.katmesh.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;

/** The task templates: each makes a variant from a random source (the suite's seed and the variant number). */
final class Templates {

    private Templates() {}

    record Template(String name, BiFunction<Random, String, Variant> make) {}

    static final List<Template> ALL = List.of(
            new Template("offset-sum", Templates::offsetSum),
            new Template("count-char", Templates::countChar),
            new Template("fizzbuzz", Templates::fizzbuzz),
            new Template("fibonacci-mod", Templates::fibonacciMod),
            new Template("reverse-words", Templates::reverseWords),
            new Template("grep-count", Templates::grepCount));

    /** A unittest file: one test method per case, each calling solve(*args). */
    static String pythonTests(List<String> calls, List<String> expected) {
        StringBuilder b = new StringBuilder("import unittest\nfrom solution import solve\n\n\nclass SolutionTest(unittest.TestCase):\n");
        for (int i = 0; i < calls.size(); i++) {
            b.append("    def test_").append(i).append("(self):\n        self.assertEqual(solve(").append(calls.get(i))
                    .append("), ").append(expected.get(i)).append(")\n\n");
        }
        return b.append("\nif __name__ == '__main__':\n    unittest.main()\n").toString();
    }

    static Variant python(String id, String template, String difficulty, String instruction, List<String> calls, List<String> expected,
                          List<String> references, String wrong) {
        List<String[]> files = List.<String[]>of(new String[] {"test_solution.py", pythonTests(calls, expected)});
        return new Variant(id, template, "python", "implement-function", difficulty, instruction, "solution.py", files,
                List.of("python3", "-m", "unittest", "-q", "test_solution"), calls.size(), references, wrong);
    }

    static Variant offsetSum(Random r, String id) {
        int k = (1 + r.nextInt(100)) * (r.nextBoolean() ? 1 : -1); // never 0: the wrong solution must fail
        List<String> calls = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int c = 0; c < 5; c++) {
            List<Integer> xs = new ArrayList<>();
            int n = r.nextInt(7);
            long sum = 0;
            for (int i = 0; i < n; i++) {
                int x = r.nextInt(1000) - 500;
                xs.add(x);
                sum += x;
            }
            calls.add(Py.lit(xs));
            expected.add(String.valueOf(sum + k));
        }
        return python(id, "offset-sum", "easy",
                "Write solution.py with a function solve(xs) that returns the sum of the list of integers xs plus " + k + ".",
                calls, expected, List.of(
                        "def solve(xs):\n    return sum(xs) + (" + k + ")\n",
                        "def solve(xs):\n    total = " + k + "\n    for x in xs:\n        total += x\n    return total\n",
                        "from functools import reduce\n\n\ndef solve(xs):\n    return reduce(lambda a, b: a + b, xs, " + k + ")\n"),
                "def solve(xs):\n    return sum(xs)\n");
    }

    static Variant countChar(Random r, String id) {
        char ch = (char) ('a' + r.nextInt(4));
        List<String> calls = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int c = 0; c < 5; c++) {
            StringBuilder s = new StringBuilder();
            int n = 1 + r.nextInt(12);
            for (int i = 0; i < n; i++) {
                s.append((char) ('a' + r.nextInt(5)));
            }
            if (c == 0) {
                s.append(ch);
            }
            calls.add(Py.lit(s.toString()));
            expected.add(String.valueOf(s.chars().filter(x -> x == ch).count()));
        }
        return python(id, "count-char", "easy",
                "Write solution.py with a function solve(s) that returns how many times the character '" + ch + "' occurs in the string s.",
                calls, expected, List.of(
                        "def solve(s):\n    return s.count('" + ch + "')\n",
                        "def solve(s):\n    n = 0\n    for c in s:\n        if c == '" + ch + "':\n            n += 1\n    return n\n",
                        "def solve(s):\n    return sum(1 for c in s if c == '" + ch + "')\n"),
                "def solve(s):\n    return s.count('" + ch + "') + 1\n");
    }

    static Variant fizzbuzz(Random r, String id) {
        int a = 2 + r.nextInt(4);
        int b = a + 1 + r.nextInt(4);
        String[] words = {"Fizz", "Buzz", "Bang", "Pop", "Zap"};
        String w1 = words[r.nextInt(words.length)];
        String w2 = words[(List.of(words).indexOf(w1) + 1 + r.nextInt(words.length - 1)) % words.length];
        List<String> calls = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int n : new int[] {1, a, b, a * b, 20 + r.nextInt(20)}) {
            List<String> out = new ArrayList<>();
            for (int i = 1; i <= n; i++) {
                String s = (i % a == 0 ? w1 : "") + (i % b == 0 ? w2 : "");
                out.add(s.isEmpty() ? String.valueOf(i) : s);
            }
            calls.add(String.valueOf(n));
            expected.add(Py.lit(out));
        }
        return python(id, "fizzbuzz", "medium",
                "Write solution.py with a function solve(n) that returns a list of strings for 1..n: '" + w1 + "' for multiples of " + a
                        + ", '" + w2 + "' for multiples of " + b + ", '" + w1 + w2 + "' for multiples of both, otherwise the number.",
                calls, expected, List.of(
                        "def solve(n):\n    out = []\n    for i in range(1, n + 1):\n        s = ''\n        if i % " + a + " == 0:\n            s += '" + w1
                                + "'\n        if i % " + b + " == 0:\n            s += '" + w2 + "'\n        out.append(s or str(i))\n    return out\n",
                        "def solve(n):\n    return [('" + w1 + "' if i % " + a + " == 0 else '') + ('" + w2 + "' if i % " + b
                                + " == 0 else '') or str(i) for i in range(1, n + 1)]\n"),
                "def solve(n):\n    return [('" + w1 + "' if i % " + a + " == 0 else '" + w2 + "' if i % " + b + " == 0 else str(i)) for i in range(1, n + 1)]\n");
    }

    static Variant fibonacciMod(Random r, String id) {
        int m = 7 + r.nextInt(990);
        List<String> calls = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int n : new int[] {0, 1, 2, 10 + r.nextInt(10), 50 + r.nextInt(50)}) {
            long x = 0;
            long y = 1;
            for (int i = 0; i < n; i++) {
                long t = (x + y) % m;
                x = y;
                y = t;
            }
            calls.add(String.valueOf(n));
            expected.add(String.valueOf(x % m));
        }
        return python(id, "fibonacci-mod", "medium",
                "Write solution.py with a function solve(n) that returns the n-th Fibonacci number modulo " + m + " (F(0) = 0, F(1) = 1).",
                calls, expected, List.of(
                        "def solve(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, (a + b) % " + m + "\n    return a % " + m + "\n",
                        "from functools import lru_cache\n\n\n@lru_cache(maxsize=None)\ndef fib(n):\n    return n if n < 2 else (fib(n - 1) + fib(n - 2)) % " + m
                                + "\n\n\ndef solve(n):\n    return fib(n) % " + m + "\n"),
                "def solve(n):\n    a, b = 0, 1\n    for _ in range(n + 1):\n        a, b = b, (a + b) % " + m + "\n    return a\n");
    }

    static Variant reverseWords(Random r, String id) {
        String[] vocab = {"alpha", "beta", "gamma", "delta", "code", "agent", "test", "patch", "tree", "kafka"};
        List<String> calls = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int c = 0; c < 5; c++) {
            int n = 1 + r.nextInt(5);
            List<String> ws = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ws.add(vocab[r.nextInt(vocab.length)]);
            }
            calls.add(Py.lit(String.join(c == 2 ? "  " : " ", ws)));
            List<String> rev = new ArrayList<>(ws);
            java.util.Collections.reverse(rev);
            expected.add(Py.lit(String.join(" ", rev)));
        }
        return python(id, "reverse-words", "easy",
                "Write solution.py with a function solve(s) that returns the words of s in reverse order, separated by single spaces.",
                calls, expected, List.of(
                        "def solve(s):\n    return ' '.join(reversed(s.split()))\n",
                        "def solve(s):\n    words = s.split()\n    words.reverse()\n    return ' '.join(words)\n"),
                "def solve(s):\n    return s[::-1]\n");
    }

    static Variant grepCount(Random r, String id) {
        String[] vocab = {"error", "warning", "info", "debug", "fatal"};
        String word = vocab[r.nextInt(vocab.length)];
        StringBuilder test = new StringBuilder("#!/bin/sh\n# Runs solution.sh on generated inputs and compares its output.\nfail=0\n");
        for (int c = 0; c < 4; c++) {
            StringBuilder input = new StringBuilder("header without the word\n"); // so counting all lines is wrong
            int lines = r.nextInt(8);
            int hits = 0;
            for (int i = 0; i < lines; i++) {
                String w = vocab[r.nextInt(vocab.length)];
                input.append("line ").append(i).append(' ').append(w).append('\n');
                hits += w.equals(word) ? 1 : 0;
            }
            test.append("printf '").append(input.toString().replace("\n", "\\n")).append("' > input.txt\n")
                    .append("out=$(sh solution.sh)\n")
                    .append("if [ \"$out\" = \"").append(hits).append("\" ]; then echo ok ").append(c).append("; else echo \"FAIL case ")
                    .append(c).append(": expected ").append(hits).append(", got $out\"; fail=1; fi\n");
        }
        test.append("exit $fail\n");
        return new Variant(id, "grep-count", "bash", "shell-utility", "easy",
                "Write solution.sh, a POSIX shell script that prints how many lines of input.txt contain the word '" + word + "'.",
                "solution.sh", List.<String[]>of(new String[] {"test_solution.sh", test.toString()}), List.of("sh", "test_solution.sh"), 4,
                List.of("grep -c '" + word + "' input.txt || true\n", "awk '/" + word + "/ { n++ } END { print n + 0 }' input.txt\n"),
                "wc -l < input.txt\n");
    }
}
