package dev.katmesh.tasks;

import dev.katmesh.proto.v1.TestSuite;
import java.util.List;

/**
 * One generated task before it becomes a protobuf Task.
 *
 * @param instruction  what the agent is asked (it names every parameter of the instance)
 * @param solutionPath the file the solution goes into
 * @param visible      the tests the agent sees and may run (a command suite)
 * @param judged       the cases that decide the reward and the held-out verdict (other inputs; answers kept outside the sandbox)
 * @param references   several correct solutions (contents of solutionPath)
 * @param wrong        a plausible wrong solution (the teacher's recoverable mistake; both suites must fail it)
 */
record Variant(
        String template,
        String language,
        String taskType,
        String difficulty,
        String instruction,
        String solutionPath,
        TestSuite visible,
        TestSuite judged,
        List<String> references,
        String wrong) {}
