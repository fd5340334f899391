package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.WorkspaceFile;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The built-in task suite: small programming tasks made from templates (a Python function, a shell
 * utility...) with a seed, in as many variants as wanted. Each has a test suite run in the sandbox,
 * several reference solutions (the multiple ground truths of the reward), a type and a difficulty, and
 * a split: about one task in ten is held out for evaluation. The same seed always gives the same tasks.
 */
public final class TaskSuite {

    /** The tools an agent gets for these tasks. */
    public static final List<ToolSchema> TOOLS = List.of(
            tool("bash", "Run a shell command in the workspace; returns its output and exit code",
                    "{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}},\"required\":[\"command\"]}"),
            tool("write_file", "Write a file in the workspace",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\"]}"),
            tool("read_file", "Read a file of the workspace",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}"),
            tool("submit", "Submit the solution file as the final answer",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}"));

    private final long seed;

    public TaskSuite(long seed) {
        this.seed = seed;
    }

    /** Tasks 0..count-1, cycling through the templates. */
    public List<Generated> generate(int count) {
        List<Generated> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(variant(i));
        }
        return out;
    }

    /** A task with the wrong solution tests must refuse (kept out of the Task: it is the teacher's and the tests'). */
    public record Generated(Task task, String wrongSolution) {}

    public Generated variant(int i) {
        Templates.Template t = Templates.ALL.get(i % Templates.ALL.size());
        int n = i / Templates.ALL.size();
        String id = String.format("%s-%05d", t.name(), n);
        Random r = new Random(seed * 1_000_003L ^ id.hashCode());
        Variant v = t.make().apply(r, id);
        Task.Builder b = Task.newBuilder()
                .setTaskId(id)
                .setInstruction(v.instruction())
                .addAllTools(TOOLS)
                .setLanguage(v.language())
                .setTaskType(v.taskType())
                .setDifficulty(v.difficulty())
                // ~10% held out, decided by the id alone so a task never changes sides.
                .setSplit(Math.floorMod((id + ":" + seed).hashCode(), 10) == 0 ? "heldout" : "train")
                .putTags("template", v.template())
                .putTags("solution_path", v.solutionPath())
                .setMaxTurns(8);
        TestSuite.Builder suite = TestSuite.newBuilder().setName("tests").addAllCommand(v.testCommand())
                .setTimeoutMs(20_000).setCaseCount(v.cases());
        for (String[] f : v.testFiles()) {
            suite.addFiles(WorkspaceFile.newBuilder().setPath(f[0]).setContent(ByteString.copyFrom(f[1], StandardCharsets.UTF_8)));
        }
        b.addTestSuites(suite);
        for (int k = 0; k < v.references().size(); k++) {
            b.addReferences(ReferenceSolution.newBuilder().setId("ref-" + k).setKind(SolutionKind.SOLUTION_KIND_FILE)
                    .setPath(v.solutionPath()).setContent(v.references().get(k)));
        }
        return new Generated(b.build(), v.wrong());
    }

    private static ToolSchema tool(String name, String description, String parameters) {
        return ToolSchema.newBuilder().setType("function").setName(name).setDescription(description).setParametersJson(parameters).build();
    }
}
