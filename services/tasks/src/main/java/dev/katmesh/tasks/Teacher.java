package dev.katmesh.tasks;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.v1.WorkspaceFile;
import dev.katmesh.sandbox.Sandbox;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a task's reference solution into a tool-using SFT trajectory: write the solution, run the tests,
 * submit — each tool call really executed in the sandbox, so the observations are true. With a mistake,
 * the agent first writes a plausible wrong solution, the tests fail, then it fixes it: the erroneous
 * turns carry an error class on their steps, which error-masked SFT keeps in context without loss.
 */
public final class Teacher {

    public static final String SYSTEM = "You are a coding agent. Work in the current directory with the tools. "
            + "Run the tests before you submit; submit the solution file when they pass.";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AgentTools tools;

    public Teacher(Sandbox sandbox) {
        this.tools = new AgentTools(sandbox, Duration.ofSeconds(20));
    }

    public Trajectory teach(TaskSuite.Generated generated, int referenceIndex, boolean withMistake)
            throws IOException, InterruptedException {
        Task task = generated.task();
        String path = task.getTagsOrThrow("solution_path");
        String solution = task.getReferences(referenceIndex).getContent();
        TestSuite suite = TaskTests.visibleSuites(task).stream()
                .findFirst()
                .orElseThrow(
                        () -> new IllegalArgumentException(task.getTaskId() + " has no visible test suite to run"));
        String testCommand = String.join(" ", suite.getCommandList());
        Trajectory.Builder t = Trajectory.newBuilder()
                .setTrajectoryId(task.getTaskId() + "-teacher-" + referenceIndex + (withMistake ? "-fix" : ""))
                .setGroupId(task.getTaskId())
                .setTaskId(task.getTaskId())
                .setAgentId("teacher")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addAllTools(task.getToolsList())
                .putMetadata("language", task.getLanguage())
                .putMetadata("task_type", task.getTaskType())
                .putMetadata("difficulty", task.getDifficulty())
                .addMessages(message("system", SYSTEM))
                .addMessages(message("user", task.getInstruction() + "\nThe tests run with: " + testCommand));
        Path ws = Workspaces.create("teacher");
        try {
            for (WorkspaceFile f : suite.getFilesList()) {
                TaskTests.write(ws, f.getPath(), f.getContent().toByteArray());
            }
            int call = 0;
            if (withMistake) {
                writeFile(t, "c" + call++, ws, path, generated.wrongSolution(), "wrong_solution");
                AgentTools.Result failed = bash(t, "c" + call++, ws, testCommand);
                if (!failed.failed()) {
                    throw new IllegalStateException(task.getTaskId() + ": the wrong solution passed its tests");
                }
            }
            writeFile(t, "c" + call++, ws, path, solution, "");
            AgentTools.Result passed = bash(t, "c" + call++, ws, testCommand);
            if (passed.failed()) {
                throw new IllegalStateException(
                        task.getTaskId() + ": reference " + referenceIndex + " fails its tests: " + passed);
            }
            String id = "c" + call;
            t.addMessages(ChatMessage.newBuilder()
                    .setRole("assistant")
                    .setContent("The tests pass; submitting " + path + ".")
                    .addToolCalls(toolCall(id, "submit", Map.of("path", path))));
            t.addMessages(ChatMessage.newBuilder()
                    .setRole("tool")
                    .setToolCallId(id)
                    .setName("submit")
                    .setContent("submitted " + path));
            t.addSteps(ToolStep.newBuilder()
                    .setMessageIndex(t.getMessagesCount() - 1)
                    .setToolCallId(id)
                    .setToolName("submit")
                    .setArguments(args(Map.of("path", path)))
                    .setOutput("submitted " + path)
                    .setExitCode(0));
            t.setOutcome(Outcome.newBuilder()
                    .setSubmitted(true)
                    .setKind(SolutionKind.SOLUTION_KIND_FILE)
                    .setPath(path)
                    .setContent(solution)
                    .addTestResults(TestResult.newBuilder()
                            .setName(suite.getName())
                            .setPassed(true)
                            .setPassedCases(suite.getCaseCount())
                            .setTotalCases(suite.getCaseCount())
                            .setOutput(passed.output())
                            .setDurationMs(passed.durationMs())));
            t.setCreatedAtMs(System.currentTimeMillis());
            return t.build();
        } finally {
            TaskTests.delete(ws);
        }
    }

    private void writeFile(Trajectory.Builder t, String id, Path ws, String path, String content, String errorClass)
            throws IOException {
        Map<String, String> a = Map.of("path", path, "content", content);
        t.addMessages(ChatMessage.newBuilder().setRole("assistant").addToolCalls(toolCall(id, "write_file", a)));
        TaskTests.write(ws, path, content.getBytes(StandardCharsets.UTF_8));
        String out = "wrote " + content.getBytes(StandardCharsets.UTF_8).length + " bytes to " + path;
        t.addMessages(ChatMessage.newBuilder()
                .setRole("tool")
                .setToolCallId(id)
                .setName("write_file")
                .setContent(out));
        t.addSteps(ToolStep.newBuilder()
                .setMessageIndex(t.getMessagesCount() - 1)
                .setToolCallId(id)
                .setToolName("write_file")
                .setArguments(args(a))
                .setOutput(out)
                .setExitCode(0)
                .setErrorClass(errorClass));
    }

    private AgentTools.Result bash(Trajectory.Builder t, String id, Path ws, String command)
            throws InterruptedException {
        Map<String, String> a = Map.of("command", command);
        t.addMessages(ChatMessage.newBuilder().setRole("assistant").addToolCalls(toolCall(id, "bash", a)));
        AgentTools.Result r = tools.execute("bash", args(a), ws);
        t.addMessages(ChatMessage.newBuilder()
                .setRole("tool")
                .setToolCallId(id)
                .setName("bash")
                .setContent(r.output()));
        t.addSteps(ToolStep.newBuilder()
                .setMessageIndex(t.getMessagesCount() - 1)
                .setToolCallId(id)
                .setToolName("bash")
                .setArguments(args(a))
                .setOutput(r.output())
                .setExitCode(r.exitCode())
                .setErrorClass(r.errorClass())
                .setDurationMs(r.durationMs()));
        return r;
    }

    private static ChatMessage message(String role, String content) {
        return ChatMessage.newBuilder().setRole(role).setContent(content).build();
    }

    private static ToolCall toolCall(String id, String name, Map<String, String> arguments) {
        return ToolCall.newBuilder()
                .setId(id)
                .setType("function")
                .setName(name)
                .setArguments(args(arguments))
                .build();
    }

    private static String args(Map<String, String> a) {
        try {
            return JSON.writeValueAsString(new TreeMap<>(a));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
