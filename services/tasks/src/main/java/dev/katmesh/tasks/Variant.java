package dev.katmesh.tasks;

import java.util.List;

/**
 * One generated task before it becomes a protobuf Task.
 *
 * @param id           stable id: template and variant number
 * @param instruction  what the agent is asked
 * @param solutionPath the file the solution goes into
 * @param testFiles    the test suite's files (path, content)
 * @param testCommand  how the suite runs
 * @param cases        test cases in the suite
 * @param references   several correct solutions (contents of solutionPath)
 * @param wrong        a plausible wrong solution (the teacher's recoverable mistake; tests must fail it)
 */
record Variant(String id, String template, String language, String taskType, String difficulty, String instruction,
               String solutionPath, List<String[]> testFiles, List<String> testCommand, int cases,
               List<String> references, String wrong) {}
