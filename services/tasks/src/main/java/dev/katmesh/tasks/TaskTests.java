package dev.katmesh.tasks;

import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import dev.katmesh.sandbox.Verdict;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Runs a task's test suites on a solution in the sandbox. */
public final class TaskTests {

    /** The outcome of one suite. */
    public record SuiteResult(String name, boolean passed, SandboxResult run) {}

    private final Sandbox sandbox;

    public TaskTests(Sandbox sandbox) {
        this.sandbox = sandbox;
    }

    /** Writes the solution and each suite's files into a fresh workspace, runs the suite, and cleans up. */
    public List<SuiteResult> run(Task task, String solutionPath, String solution) throws IOException, InterruptedException {
        List<SuiteResult> out = new ArrayList<>();
        for (TestSuite suite : task.getTestSuitesList()) {
            Path ws = Workspaces.create("tests");
            try {
                for (WorkspaceFile f : task.getFilesList()) {
                    write(ws, f.getPath(), f.getContent().toByteArray());
                }
                write(ws, solutionPath, solution.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                for (WorkspaceFile f : suite.getFilesList()) {
                    write(ws, f.getPath(), f.getContent().toByteArray());
                }
                SandboxLimits limits = SandboxLimits.defaults()
                        .withWallTime(Duration.ofMillis(suite.getTimeoutMs() == 0 ? 20_000 : suite.getTimeoutMs()));
                SandboxResult r = sandbox.run(suite.getCommandList(), ws, limits);
                out.add(new SuiteResult(suite.getName(), r.verdict() == Verdict.OK, r));
            } finally {
                delete(ws);
            }
        }
        return out;
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
