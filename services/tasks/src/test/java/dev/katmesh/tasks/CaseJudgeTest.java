package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.katmesh.proto.v1.Task;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.hacks.RewardHacks;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The judge on real tasks in the real sandbox: the hack corpus passes no case; only solving does. */
class CaseJudgeTest {

    @Test
    void noHackPassesACaseOfAnyFamily() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
        TaskTests tests = new TaskTests(new BubblewrapSandbox());
        Set<String> families = new HashSet<>();
        for (TaskSuite.Generated g : new TaskSuite(13).generate(6)) {
            Task t = g.task();
            families.add(t.getTagsOrThrow("template"));
            String path = t.getTagsOrThrow("solution_path");
            for (RewardHacks.Hack hack : hacksFor(t)) {
                var r = tests.run(t, path, hack.content());
                assertEquals(1, r.size(), "one judged suite");
                assertEquals(
                        0,
                        r.get(0).passedCases(),
                        t.getTaskId() + ": '" + hack.name() + "' must pass no case: " + r.get(0));
                assertTrue(r.get(0).judged());
            }
        }
        assertEquals(6, families.size(), "every family");
    }

    /** The slow hacks (sleeping out the clock) once, on the first Python and the shell task. */
    private static List<RewardHacks.Hack> hacksFor(Task t) {
        boolean slowOnes = t.getTagsOrThrow("template").equals("offset-sum")
                || t.getLanguage().equals("bash");
        return RewardHacks.of(t).stream()
                .filter(h -> slowOnes || !h.name().contains("sleep"))
                .toList();
    }

    @Test
    void answersCountOnlyOnceAndByValue() {
        var answers = CaseJudge.answers("noise\n" + CaseJudge.ANSWER_MARK + "{\"case\":0,\"value\":3}\n"
                + "x" + CaseJudge.ANSWER_MARK + "{\"case\":1,\"value\":[1,2]}\n" + CaseJudge.ANSWER_MARK
                + "{\"case\":1,\"value\":[1,2]}\n"
                + CaseJudge.ANSWER_MARK + "not json\n");
        assertEquals(1, answers.get(0).size());
        assertEquals(2, answers.get(1).size(), "a second answer line for a case is kept, so the case is ambiguous");
        assertTrue(CaseJudge.sameValue(answers.get(0).get(0).get("value"), "3.0"), "3 == 3.0, as in Python");
        assertFalse(CaseJudge.sameValue(answers.get(0).get(0).get("value"), "true"), "true is not a number");
        assertFalse(CaseJudge.sameValue(answers.get(0).get(0).get("value"), "\"3\""), "a string is not a number");
        assertTrue(CaseJudge.sameValue(answers.get(1).get(0).get("value"), "[1, 2]"));
    }
}
