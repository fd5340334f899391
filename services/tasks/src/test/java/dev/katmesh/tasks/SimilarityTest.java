package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SimilarityTest {

    @Test
    void theClosestOfSeveralReferencesWins() {
        String a = "def solve(s):\n    return s.count('a')\n";
        String b =
                "def solve(s):\n    n = 0\n    for c in s:\n        if c == 'a':\n            n += 1\n    return n\n";
        String answer =
                "def solve(s):\n    n = 0\n    for ch in s:\n        if ch == 'a':\n            n += 1\n    return n\n";
        assertTrue(Similarity.of(answer, b) > Similarity.of(answer, a));
        assertEquals(1.0, Similarity.of(a + "\n\n   \n", a), 1e-9, "whitespace differences do not count");
        assertEquals(3, Similarity.levenshtein("kitten", "sitting"));
    }

    @Test
    void discrepancyIsTheWayLeftRelativeToTheStart() {
        String start = "def solve(xs):\n    return 0\n";
        String ref = "def solve(xs):\n    return sum(xs)\n";
        assertEquals(1.0, Similarity.discrepancy(start, ref, start), 1e-9, "where it started: 1");
        assertEquals(0.0, Similarity.discrepancy(ref, ref, start), 1e-9, "at the reference: 0");
        // lev(start, ref) = 7 ("0" -> "sum(xs)"); one character left to go of seven.
        assertEquals(1.0 / 7, Similarity.discrepancy("def solve(xs):\n    return sum(xs\n", ref, start), 1e-9);
        assertTrue(
                Similarity.discrepancy("import os\nos.system('true')\n", ref, start) > 1,
                "farther from the reference than the start: above 1");
        // From an empty start the whole reference is the way: the same edit counts for less than on a one-line fix.
        assertEquals(1.0 / ref.length(), Similarity.discrepancy("def solve(xs):\n    return sum(xs\n", ref, ""), 1e-9);
    }
}
