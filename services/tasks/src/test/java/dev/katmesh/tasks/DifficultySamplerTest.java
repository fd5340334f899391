package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DifficultySamplerTest {

    static Map<String, List<String>> families() {
        Map<String, List<String>> m = new LinkedHashMap<>();
        m.put("always", List.of("a1", "a2"));
        m.put("never", List.of("n1", "n2"));
        m.put("sometimes", List.of("s1", "s2", "s3"));
        return m;
    }

    static Map<String, Integer> draws(DifficultySampler<String> s, int n) {
        Map<String, Integer> count = new HashMap<>();
        for (int i = 0; i < n; i++) {
            count.merge(s.next().substring(0, 1), 1, Integer::sum);
        }
        return count;
    }

    @Test
    void withoutEvidenceFamiliesAreDrawnAlikeAndTasksInTurn() {
        DifficultySampler<String> s = new DifficultySampler<>(families(), 4, 0.05, 7);
        Map<String, Integer> c = draws(s, 3000);
        for (String f : List.of("a", "n", "s")) {
            assertTrue(Math.abs(c.get(f) - 1000) < 120, "uniform before any episode is scored: " + c);
        }
        DifficultySampler<String> one = new DifficultySampler<>(Map.of("only", List.of("x", "y")), 4, 0.05, 7);
        assertEquals(
                List.of("x", "y", "x"),
                List.of(one.next(), one.next(), one.next()),
                "a family's tasks are sent in turn");
    }

    @Test
    void familiesThatAlwaysOrNeverSucceedFallToTheFloor() {
        DifficultySampler<String> s = new DifficultySampler<>(families(), 4, 0.05, 7);
        for (int i = 0; i < 100; i++) {
            s.record("always", true);
            s.record("never", false);
            s.record("sometimes", i % 3 == 0);
        }
        s.record("unknown", true); // another run's task: ignored
        assertTrue(
                s.usefulGroupChance("always") < 0.05 && s.usefulGroupChance("never") < 0.05,
                s.summary().toString());
        assertTrue(s.usefulGroupChance("sometimes") > 0.7, "p = 1/3, G = 4: 1 - p^4 - (1-p)^4 = 0.79; " + s.summary());
        Map<String, Integer> c = draws(s, 3000);
        // weights 0.05, 0.05, ~0.79: the useful family gets ~89% of the groups, the others still ~5.5% each
        assertTrue(c.get("s") > 2500, c.toString());
        assertTrue(c.get("a") > 60 && c.get("n") > 60, "the floor keeps every family tried: " + c);
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new DifficultySampler<>(Map.of(), 4, 0.05, 1));
        assertThrows(IllegalArgumentException.class, () -> new DifficultySampler<>(Map.of("f", List.of()), 4, 0.05, 1));
        assertThrows(IllegalArgumentException.class, () -> new DifficultySampler<>(families(), 1, 0.05, 1));
        assertThrows(IllegalArgumentException.class, () -> new DifficultySampler<>(families(), 4, 0, 1));
    }
}
