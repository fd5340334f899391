package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ContentOverlapTest {

    @Test
    void aTextHoldsContentOnlyAsAWhole() {
        String m23 = "def solve(n): a, b = 0, 1 return a % 23";
        assertFalse(
                ContentOverlap.inAny(List.of("# mod 2302 def solve(n): a, b = 0, 1 return a % 2302"), m23),
                "another modulus is another task, though its code starts with this one's");
        assertTrue(
                ContentOverlap.inAny(List.of("# mod 23 def solve(n): a, b = 0, 1 return a % 23"), m23),
                "at the end of a text");
        assertTrue(ContentOverlap.inAny(List.of("x " + m23 + " y"), m23), "in the middle, between spaces");
        assertTrue(
                ContentOverlap.inAny(List.of("return a % 2302 and " + m23 + "."), m23),
                "a later whole occurrence counts");
        assertFalse(
                ContentOverlap.inAny(List.of("xdef solve(n): a, b = 0, 1 return a % 23"), m23),
                "not glued to a word before it");
    }
}
