package dev.katmesh.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.NumericNode;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestCase;
import dev.katmesh.proto.v1.TestHarness;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import dev.katmesh.sandbox.Verdict;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Judges a suite's cases with evidence the code under test cannot forge. Only a case's inputs enter the
 * sandbox; the sandbox returns candidate answers, and each case's verdict is decided here, outside it,
 * against the expected answer that never entered it. So exiting early, printing fake summaries, patching
 * a test framework (there is none inside), reading expected values or sleeping out the clock all leave
 * cases without a right answer: they score 0. Writing the right answer is solving the case.
 *
 * <p>PYTHON_CALL: one sandbox run of {@code judge_runner.py}, which imports the solution and reports
 * each case's returned value as a marked line; a case counts only with exactly one answer line (a
 * solution that prints its own marked lines makes its cases ambiguous, so failed). STDOUT: one sandbox
 * run per case in a fresh workspace, each with its share of the suite's time (at least 2 s); exit code 0 and the
 * trimmed output equal to the expected text.
 */
final class CaseJudge {

    /** One case's verdict, with why it failed. */
    record CaseVerdict(String id, boolean passed, String why) {}

    static final String ANSWER_MARK = "\u001ekatmesh-answer ";
    private static final String RUNNER = "_judge_runner.py";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] RUNNER_SOURCE = runnerSource();
    /** The least time a STDOUT case gets, whatever its share of the suite's time (a sandbox start under load). */
    private static final Duration MIN_CASE_TIME = Duration.ofSeconds(2);

    private final Sandbox sandbox;

    CaseJudge(Sandbox sandbox) {
        this.sandbox = sandbox;
    }

    /** Every case's verdict, and the last sandbox run (for its output and verdict in the reward's detail). */
    record Judged(List<CaseVerdict> cases, SandboxResult lastRun) {}

    Judged judge(Task task, TestSuite suite, String solutionPath, String solution)
            throws IOException, InterruptedException {
        return switch (suite.getHarness()) {
            case TEST_HARNESS_PYTHON_CALL -> pythonCall(task, suite, solutionPath, solution);
            case TEST_HARNESS_STDOUT -> stdout(task, suite, solutionPath, solution);
            default ->
                throw new IllegalArgumentException(
                        "suite " + suite.getName() + " is not judged case by case: " + suite.getHarness());
        };
    }

    private Judged pythonCall(Task task, TestSuite suite, String solutionPath, String solution)
            throws IOException, InterruptedException {
        if (!solutionPath.endsWith(".py")) {
            return failAll(suite, "the solution " + solutionPath + " is not a Python module", null);
        }
        String module = solutionPath.substring(0, solutionPath.length() - 3).replace('/', '.');
        StringBuilder args = new StringBuilder("[");
        for (int i = 0; i < suite.getCasesCount(); i++) {
            args.append(i == 0 ? "" : ",")
                    .append(
                            suite.getCases(i).getArgsJson().isEmpty()
                                    ? "[]"
                                    : suite.getCases(i).getArgsJson());
        }
        Duration wall = wallTime(suite);
        // The alarm of each case (and of the import): a share of the suite's time, never under 2 s so a loaded
        // machine's
        // slow import is not a timeout.
        long perCase = Math.max(2, Math.min(5, wall.toSeconds() / (suite.getCasesCount() + 1)));
        Path ws = Workspaces.create("judge");
        SandboxResult run;
        try {
            writeTaskFiles(ws, task);
            TaskTests.write(ws, solutionPath, solution.getBytes(StandardCharsets.UTF_8));
            TaskTests.write(ws, RUNNER, RUNNER_SOURCE);
            TaskTests.write(ws, "_judge_cases.json", args.append(']').toString().getBytes(StandardCharsets.UTF_8));
            run = sandbox.run(
                    List.of(
                            "python3",
                            "-I",
                            RUNNER,
                            module,
                            suite.getEntry().isEmpty() ? "solve" : suite.getEntry(),
                            Long.toString(perCase)),
                    ws,
                    SandboxLimits.defaults().withWallTime(wall));
        } finally {
            TaskTests.delete(ws);
        }
        Map<Integer, List<JsonNode>> answers = answers(run.stdout());
        List<JsonNode> importFailure = answers.get(-1);
        List<CaseVerdict> out = new ArrayList<>();
        for (int i = 0; i < suite.getCasesCount(); i++) {
            TestCase c = suite.getCases(i);
            List<JsonNode> a = answers.getOrDefault(i, List.of());
            String why;
            if (importFailure != null) {
                why = importFailure.get(0).path("error").asText("import failed");
            } else if (a.isEmpty()) {
                why = "no answer (" + run.verdict().label() + ")";
            } else if (a.size() > 1) {
                why = a.size() + " answers: ambiguous";
            } else if (a.get(0).has("error")) {
                why = "raised " + a.get(0).get("error").asText();
            } else {
                why = sameValue(a.get(0).get("value"), c.getExpected()) ? "" : "wrong answer";
            }
            out.add(new CaseVerdict(c.getId(), why.isEmpty(), why));
        }
        return new Judged(out, run);
    }

    private Judged stdout(Task task, TestSuite suite, String solutionPath, String solution)
            throws IOException, InterruptedException {
        if (suite.getCommandCount() == 0) {
            return failAll(suite, "a STDOUT suite needs the command that runs the solution", null);
        }
        List<CaseVerdict> out = new ArrayList<>();
        SandboxResult last = null;
        // The suite's budget is shared by its cases: a solution that sleeps costs the suite's timeout, not one per
        // case.
        Duration share = wallTime(suite).dividedBy(Math.max(1, suite.getCasesCount()));
        Duration perCase = share.compareTo(MIN_CASE_TIME) < 0 ? MIN_CASE_TIME : share;
        for (TestCase c : suite.getCasesList()) {
            Path ws = Workspaces.create("judge");
            try {
                writeTaskFiles(ws, task);
                TaskTests.write(ws, solutionPath, solution.getBytes(StandardCharsets.UTF_8));
                for (WorkspaceFile f : c.getFilesList()) {
                    TaskTests.write(ws, f.getPath(), f.getContent().toByteArray());
                }
                last = sandbox.run(
                        suite.getCommandList(), ws, SandboxLimits.defaults().withWallTime(perCase));
            } finally {
                TaskTests.delete(ws);
            }
            String why = last.verdict() != Verdict.OK
                    ? last.verdict().label()
                    : last.stdout().strip().equals(c.getExpected().strip()) ? "" : "wrong output";
            out.add(new CaseVerdict(c.getId(), why.isEmpty(), why));
        }
        return new Judged(out, last);
    }

    /** Answer lines by case index (-1: the import failed); any other output is the solution's own and ignored. */
    static Map<Integer, List<JsonNode>> answers(String stdout) {
        Map<Integer, List<JsonNode>> out = new HashMap<>();
        for (String line : stdout.split("\n")) {
            int at = line.indexOf(ANSWER_MARK);
            if (at < 0) {
                continue;
            }
            try {
                JsonNode a = JSON.readTree(line.substring(at + ANSWER_MARK.length()));
                if (a != null && a.path("case").isInt()) {
                    out.computeIfAbsent(a.get("case").asInt(), k -> new ArrayList<>())
                            .add(a);
                }
            } catch (IOException e) {
                // a malformed answer line answers nothing
            }
        }
        return out;
    }

    /** JSON equality, numbers by value (3 == 3.0, as Python's assertEqual has it); true is not 1. */
    static boolean sameValue(JsonNode answer, String expectedJson) {
        if (answer == null) {
            return false;
        }
        try {
            JsonNode expected = JSON.readTree(expectedJson);
            Comparator<JsonNode> numbers = (x, y) -> x.equals(y)
                    ? 0
                    : x instanceof NumericNode
                                    && y instanceof NumericNode
                                    && x.decimalValue().compareTo(y.decimalValue()) == 0
                            ? 0
                            : 1;
            return answer.equals(numbers, expected);
        } catch (IOException e) {
            throw new IllegalArgumentException("the expected answer is not JSON: " + expectedJson, e);
        }
    }

    private static Judged failAll(TestSuite suite, String why, SandboxResult run) {
        return new Judged(
                suite.getCasesList().stream()
                        .map(c -> new CaseVerdict(c.getId(), false, why))
                        .toList(),
                run);
    }

    private static Duration wallTime(TestSuite suite) {
        return Duration.ofMillis(suite.getTimeoutMs() == 0 ? 20_000 : suite.getTimeoutMs());
    }

    private static void writeTaskFiles(Path ws, Task task) throws IOException {
        for (WorkspaceFile f : task.getFilesList()) {
            TaskTests.write(ws, f.getPath(), f.getContent().toByteArray());
        }
    }

    private static byte[] runnerSource() {
        try (InputStream in = CaseJudge.class.getResourceAsStream("judge_runner.py")) {
            if (in == null) {
                throw new IllegalStateException("judge_runner.py is missing from the tasks library");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static boolean judged(TestSuite s) {
        return s.getHarness() == TestHarness.TEST_HARNESS_PYTHON_CALL
                || s.getHarness() == TestHarness.TEST_HARNESS_STDOUT;
    }
}
