package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.proto.v1.Task;
import org.junit.jupiter.api.Test;

class RolloutSupervisorTest {

    static final String LOOP =
            "def solve(s):\n    n = 0\n    for c in s:\n        if c == 'a':\n            n += 1\n    return n\n";
    static final String COUNT = "def solve(s):\n    return s.count('a')\n";
    static final Task TASK = Task.newBuilder()
            .setTaskId("count-a")
            .putTags("solution_path", "solution.py")
            .addReferences(ReferenceSolution.newBuilder().setId("loop").setContent(LOOP))
            .addReferences(ReferenceSolution.newBuilder().setId("count").setContent(COUNT))
            .build();

    static RolloutSupervision rule(boolean enforce) {
        return RolloutSupervision.newBuilder()
                .setGraceTurns(1)
                .setPatience(2)
                .setMaxDiscrepancy(1.0)
                .setEnforce(enforce)
                .build();
    }

    @Test
    void anEpisodeThatNeverApproachesAReferenceIsEndedAfterItsPatience() {
        RolloutSupervisor s = new RolloutSupervisor(rule(true), GroundTruths.of(TASK));
        assertFalse(s.afterTurn(1, null, 40), "turn 1 is within the grace");
        assertFalse(s.afterTurn(2, null, 80), "one off-track turn is not yet a deviation");
        String unrelated =
                "import os\nimport sys\n\nfor name in sorted(os.listdir(sys.argv[1] if len(sys.argv) > 1 else '.')):\n"
                        + "    path = os.path.join('.', name)\n    print(name, os.path.getsize(path), os.path.isdir(path))\n";
        assertTrue(s.afterTurn(3, unrelated, 120), "two in a row are: nothing written, then an unrelated script");
        RolloutSupervisor.Verdict v = s.verdict();
        assertEquals(3, v.turn());
        assertEquals(120, v.generatedTokens(), "what the episode had generated when it was stopped");
        assertTrue(v.discrepancy() >= 1.0, v.describe());
        assertTrue(s.afterTurn(4, COUNT, 160), "the verdict stands once given");
        assertEquals(3, s.verdict().turn());
        assertTrue(
                s.trace().startsWith("2:1.000:80;3:"),
                "turn:discrepancy:tokens of each turn after the grace: " + s.trace());
        assertTrue(
                s.trace().endsWith(";4:0.000:160"),
                "kept after the verdict (shadow mode measures with it): " + s.trace());
    }

    @Test
    void approachingAnyReferenceResetsThePatience() {
        RolloutSupervisor s = new RolloutSupervisor(rule(true), GroundTruths.of(TASK));
        s.afterTurn(1, null, 10);
        assertFalse(s.afterTurn(2, null, 20));
        String nearCount = "def solve(s):\n    return s.count('b')\n";
        assertFalse(s.afterTurn(3, nearCount, 30), "near the second reference: on track");
        assertFalse(s.afterTurn(4, null, 40), "the count starts again");
        assertTrue(s.afterTurn(5, null, 50));
        assertEquals(5, s.verdict().turn());
    }

    @Test
    void aDifferentAlgorithmNearTheOtherReferenceIsNotADeviation() {
        RolloutSupervisor s = new RolloutSupervisor(rule(true), GroundTruths.of(TASK));
        String loopish =
                "def solve(s):\n    total = 0\n    for ch in s:\n        if ch == 'a':\n            total += 1\n"
                        + "    return total\n";
        for (int turn = 1; turn <= 6; turn++) {
            assertFalse(s.afterTurn(turn, loopish, turn * 10L), "turn " + turn);
        }
        assertNull(s.verdict());
        assertTrue(GroundTruths.of(TASK).standing(loopish).nearestId().equals("loop"));
    }

    @Test
    void shadowModeRecordsTheVerdictWithoutEndingTheEpisode() {
        RolloutSupervisor s = new RolloutSupervisor(rule(false), GroundTruths.of(TASK));
        for (int turn = 1; turn <= 5; turn++) {
            assertFalse(s.afterTurn(turn, null, turn), "never stops in shadow mode (turn " + turn + ")");
        }
        assertNotNull(s.verdict(), "but says when it would have");
        assertEquals(3, s.verdict().turn());
    }

    @Test
    void aBranchContinuesItsParentsCount() {
        RolloutSupervisor parent = new RolloutSupervisor(rule(true), GroundTruths.of(TASK));
        parent.afterTurn(1, null, 1);
        parent.afterTurn(2, null, 2);
        RolloutSupervisor branch = parent.copy();
        assertTrue(branch.afterTurn(3, null, 3), "the branch was already one turn off");
        assertNull(parent.verdict(), "the copy is its own");
    }

    @Test
    void aTaskWithoutReferencesIsNeverSupervisedAndBadRulesAreRefused() {
        RolloutSupervisor s = new RolloutSupervisor(
                rule(true), GroundTruths.of(Task.newBuilder().setTaskId("x").build()));
        for (int turn = 1; turn <= 5; turn++) {
            assertFalse(s.afterTurn(turn, null, turn));
        }
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new RolloutSupervisor(
                        rule(true).toBuilder().setPatience(0).build(), GroundTruths.of(TASK)));
        assertTrue(e.getMessage().contains("patience"), e.getMessage());
    }
}
