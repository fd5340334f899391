package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.sandbox.BubblewrapSandbox;
import org.junit.jupiter.api.Test;

class TeacherTest {

    @Test
    void teachesWithRealToolResultsAndMarksTheRecoverableMistake() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
        Teacher teacher = new Teacher(new BubblewrapSandbox());
        for (TaskSuite.Generated g : new TaskSuite(3).generate(6)) {
            Trajectory clean = teacher.teach(g, 0, false);
            assertTrue(clean.getOutcome().getSubmitted());
            assertTrue(
                    clean.getStepsList().stream()
                            .allMatch(s -> s.getErrorClass().isEmpty()),
                    g.task().getTaskId());
            Trajectory fixed = teacher.teach(g, 1, true);
            long failedTests = fixed.getStepsList().stream()
                    .filter(s -> s.getToolName().equals("bash") && s.getExitCode() != 0)
                    .count();
            assertEquals(
                    1,
                    failedTests,
                    "one failing test run before the fix: " + g.task().getTaskId());
            ToolStep wrongWrite = fixed.getSteps(0);
            assertEquals("wrong_solution", wrongWrite.getErrorClass(), "the wrong edit is marked for error-masked SFT");
            ToolStep lastRun = fixed.getSteps(fixed.getStepsCount() - 2);
            assertEquals(0, lastRun.getExitCode(), "the tests pass after the fix");
            assertTrue(lastRun.getOutput().contains("[exit code 0]"));
            assertEquals(
                    fixed,
                    TrajectoryJson.parse(TrajectoryJson.write(fixed)).trajectory(),
                    "JSON for the SFT files round-trips");
            assertFalse(fixed.getOutcome().getContent().isEmpty());
        }
    }
}
