package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.sandbox.BubblewrapSandbox;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TaskSuiteTest {

    @Test
    void everyTaskPassesWithEachReferenceAndFailsWithTheWrongSolution() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
        TaskTests tests = new TaskTests(new BubblewrapSandbox());
        for (TaskSuite.Generated g : new TaskSuite(7).generate(12)) { // two variants of each template
            Task t = g.task();
            String path = t.getTagsOrThrow("solution_path");
            assertTrue(t.getReferencesCount() >= 2, t.getTaskId() + " has several ground truths");
            for (ReferenceSolution ref : t.getReferencesList()) {
                var result = tests.run(t, path, ref.getContent()).get(0);
                assertTrue(result.passed(), t.getTaskId() + " " + ref.getId() + " must pass: " + result.run());
            }
            var wrong = tests.run(t, path, g.wrongSolution()).get(0);
            assertFalse(wrong.passed(), t.getTaskId() + " must refuse the wrong solution: " + wrong.run());
        }
    }

    @Test
    void theSuiteIsReproducibleVariedAndSplit() {
        List<TaskSuite.Generated> a = new TaskSuite(7).generate(600);
        List<TaskSuite.Generated> b = new TaskSuite(7).generate(600);
        assertEquals(a.stream().map(TaskSuite.Generated::task).toList(), b.stream().map(TaskSuite.Generated::task).toList(), "same seed, same tasks");
        Set<String> instructions = new HashSet<>();
        a.forEach(g -> instructions.add(g.task().getInstruction() + g.task().getTestSuites(0).getFiles(0).getContent().toStringUtf8()));
        assertTrue(instructions.size() > 590, "variants differ: " + instructions.size() + " distinct of 600");
        long heldOut = a.stream().filter(g -> g.task().getSplit().equals("heldout")).count();
        assertTrue(heldOut > 30 && heldOut < 100, "about one in ten is held out: " + heldOut);
        assertEquals(Set.of("python", "bash"), Set.copyOf(a.stream().map(g -> g.task().getLanguage()).toList()));
        assertTrue(Set.copyOf(a.stream().map(g -> g.task().getDifficulty()).toList()).containsAll(Set.of("easy", "medium")));
    }
}
