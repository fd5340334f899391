package dev.katmesh.tasks;

import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import dev.katmesh.sandbox.Verdict;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs the suites that decide a task's verdict on a solution: its judged suites ({@link CaseJudge}) when
 * it has any, else its command suites by exit code (tasks of other origins; such a verdict is only as
 * trustworthy as the test command's isolation from the solution, and says so in its detail).
 */
public final class TaskTests {

    /**
     * The outcome of one suite.
     *
     * @param judged whether the verdict was reached case by case outside the sandbox (else: an exit code)
     * @param run    the (last) sandbox run, null when nothing ran
     * @param detail why cases failed, for the reward's component detail
     */
    public record SuiteResult(
            String name, boolean judged, int passedCases, int totalCases, SandboxResult run, String detail) {
        public boolean passed() {
            return totalCases > 0 && passedCases == totalCases;
        }

        public double passFraction() {
            return totalCases == 0 ? 0 : (double) passedCases / totalCases;
        }
    }

    private final Sandbox sandbox;
    private final CaseJudge judge;

    public TaskTests(Sandbox sandbox) {
        this.sandbox = sandbox;
        this.judge = new CaseJudge(sandbox);
    }

    /** The suites that decide the verdict: the judged ones, or every command suite when there are none. */
    public static List<TestSuite> scoredSuites(Task task) {
        List<TestSuite> judged =
                task.getTestSuitesList().stream().filter(CaseJudge::judged).toList();
        return judged.isEmpty() ? task.getTestSuitesList() : judged;
    }

    /** The suites an agent sees and may run in its workspace (command suites; judged cases stay hidden). */
    public static List<TestSuite> visibleSuites(Task task) {
        return task.getTestSuitesList().stream()
                .filter(s -> !CaseJudge.judged(s))
                .toList();
    }

    /** Runs each scored suite on the solution, each in fresh workspaces that are deleted afterwards. */
    public List<SuiteResult> run(Task task, String solutionPath, String solution)
            throws IOException, InterruptedException {
        List<SuiteResult> out = new ArrayList<>();
        for (TestSuite suite : scoredSuites(task)) {
            out.add(
                    CaseJudge.judged(suite)
                            ? judged(task, suite, solutionPath, solution)
                            : command(task, suite, solutionPath, solution));
        }
        return out;
    }

    /** Whether every scored suite passed (what the held-out evaluation counts). */
    public boolean passes(Task task, String solutionPath, String solution) throws IOException, InterruptedException {
        List<SuiteResult> r = run(task, solutionPath, solution);
        return !r.isEmpty() && r.stream().allMatch(SuiteResult::passed);
    }

    private SuiteResult judged(Task task, TestSuite suite, String solutionPath, String solution)
            throws IOException, InterruptedException {
        CaseJudge.Judged j = judge.judge(task, suite, solutionPath, solution);
        int passed =
                (int) j.cases().stream().filter(CaseJudge.CaseVerdict::passed).count();
        StringBuilder why = new StringBuilder();
        j.cases().stream()
                .filter(c -> !c.passed())
                .limit(3)
                .forEach(c -> why.append(why.isEmpty() ? "" : "; ")
                        .append(c.id())
                        .append(": ")
                        .append(c.why()));
        return new SuiteResult(suite.getName(), true, passed, j.cases().size(), j.lastRun(), why.toString());
    }

    private SuiteResult command(Task task, TestSuite suite, String solutionPath, String solution)
            throws IOException, InterruptedException {
        Path ws = Workspaces.create("tests");
        try {
            for (WorkspaceFile f : task.getFilesList()) {
                write(ws, f.getPath(), f.getContent().toByteArray());
            }
            write(ws, solutionPath, solution.getBytes(StandardCharsets.UTF_8));
            for (WorkspaceFile f : suite.getFilesList()) {
                write(ws, f.getPath(), f.getContent().toByteArray());
            }
            SandboxLimits limits = SandboxLimits.defaults()
                    .withWallTime(Duration.ofMillis(suite.getTimeoutMs() == 0 ? 20_000 : suite.getTimeoutMs()));
            SandboxResult r = sandbox.run(suite.getCommandList(), ws, limits);
            boolean ok = r.verdict() == Verdict.OK;
            return new SuiteResult(
                    suite.getName(),
                    false,
                    ok ? 1 : 0,
                    1,
                    r,
                    "exit code " + r.exitCode() + " (unverified: the solution shares the test's process)");
        } finally {
            delete(ws);
        }
    }

    /** Deletes a workspace and everything in it. */
    public static void delete(Path ws) throws IOException {
        try (Stream<Path> walk = Files.walk(ws)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Writes a file under the workspace; refuses paths that would leave it. */
    public static void write(Path ws, String relative, byte[] content) throws IOException {
        Path target = ws.resolve(relative).normalize();
        if (!target.startsWith(ws) || relative.startsWith("/")) {
            throw new IOException("path leaves the workspace: " + relative);
        }
        Files.createDirectories(target.getParent());
        Files.write(target, content);
    }
}
