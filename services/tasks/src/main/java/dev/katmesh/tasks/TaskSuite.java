package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.ToolSchema;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The built-in task suite: small programming tasks made from templates (a Python function, a shell
 * utility...) with a seed, in as many variants as wanted. Each has visible tests for the agent, judged
 * cases for the verdict, several reference solutions (the multiple ground truths of the reward), a
 * type, a difficulty and a split. The same seed always gives the same tasks.
 *
 * <p>Honest splits: no two tasks of a suite share an instruction, a set of judged inputs or a reference
 * solution ({@link TaskContent}; a variant that would is drawn again), and the split is decided by the
 * instruction's content: about one task in ten is {@code validation} (for choosing plans and settings),
 * one in ten {@code heldout} (only reported), the rest {@code train}. Tasks past the first {@code n}
 * ({@link #generate(int, int)}) are as unique, so a corpus made of them holds no evaluation task.
 */
public final class TaskSuite {

    /** The tools an agent gets for these tasks. */
    public static final List<ToolSchema> TOOLS = List.of(
            tool(
                    "bash",
                    "Run a shell command in the workspace; returns its output and exit code",
                    "{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}},\"required\":[\"command\"]}"),
            tool(
                    "write_file",
                    "Write a file in the workspace",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
                            + "\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\"]}"),
            tool(
                    "read_file",
                    "Read a file of the workspace",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}"),
            tool(
                    "submit",
                    "Submit the solution file as the final answer",
                    "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}"));

    public static final String TRAIN = "train";
    public static final String VALIDATION = "validation";
    public static final String HELDOUT = "heldout";

    /** The names of the families, in the order of the full suite. */
    public static final List<String> FAMILIES =
            Templates.ALL.stream().map(Templates.Template::name).toList();

    /** Draws of one variant before its family is called exhausted. */
    private static final int MAX_ATTEMPTS = 1000;

    private final long seed;
    private final List<Templates.Template> families;

    /** The suite of every family. */
    public TaskSuite(long seed) {
        this(seed, List.of());
    }

    /**
     * The suite of the families named ({@link #FAMILIES}; all of them for an empty list), taken in turn.
     *
     * @throws IllegalArgumentException for a name that is no family
     */
    public TaskSuite(long seed, List<String> families) {
        this.seed = seed;
        this.families = Templates.named(families);
    }

    /** Tasks 0..count-1, cycling through the families. */
    public List<Generated> generate(int count) {
        return generate(0, count);
    }

    /** Tasks from..to-1 of the suite's sequence: unique by content against every task before them too. */
    public List<Generated> generate(int from, int to) {
        Set<String> used = new HashSet<>();
        List<Generated> out = new ArrayList<>();
        for (int i = 0; i < to; i++) {
            Generated g = variant(i, used);
            if (i >= from) {
                out.add(g);
            }
        }
        return out;
    }

    /** Task i of the suite (generating the ones before it, whose content it must not repeat). */
    public Generated variant(int i) {
        return generate(i, i + 1).get(0);
    }

    /** A task with the wrong solution tests must refuse (kept out of the Task: it is the teacher's and the tests'). */
    public record Generated(Task task, String wrongSolution) {}

    private Generated variant(int i, Set<String> used) {
        Templates.Template t = families.get(i % families.size());
        String id = String.format("%s-%05d", t.name(), i / families.size());
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            // A well-mixed seed per (suite, task, attempt): java.util.Random's first draws are correlated for nearby
            // seeds.
            Generated g = build(id, t.make().apply(new Random(mix(mix(mix(seed) ^ i) ^ attempt))));
            List<String> keys = TaskContent.of(g.task()).keys();
            if (keys.stream().noneMatch(used::contains)) {
                used.addAll(keys);
                return g;
            }
        }
        throw new IllegalStateException("the " + t.name() + " family has no unused variant left after " + MAX_ATTEMPTS
                + " draws (task " + i + "): ask for fewer tasks");
    }

    private Generated build(String id, Variant v) {
        Task.Builder b = Task.newBuilder()
                .setTaskId(id)
                .setInstruction(v.instruction())
                .addAllTools(TOOLS)
                .setLanguage(v.language())
                .setTaskType(v.taskType())
                .setDifficulty(v.difficulty())
                .setSplit(split(TaskContent.normalise(v.instruction())))
                .putTags("template", v.template())
                .putTags("solution_path", v.solutionPath())
                .setMaxTurns(8)
                .addTestSuites(v.visible())
                .addTestSuites(v.judged());
        for (int k = 0; k < v.references().size(); k++) {
            b.addReferences(ReferenceSolution.newBuilder()
                    .setId("ref-" + k)
                    .setKind(SolutionKind.SOLUTION_KIND_FILE)
                    .setPath(v.solutionPath())
                    .setContent(v.references().get(k)));
        }
        return new Generated(b.build(), v.wrong());
    }

    /** The split of an instruction: a function of its content and the suite's seed only. */
    String split(String normalisedInstruction) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256")
                    .digest((seed + ":" + normalisedInstruction).getBytes(StandardCharsets.UTF_8));
            int bucket = Math.floorMod(ByteBuffer.wrap(h).getLong(), 20);
            return bucket < 2 ? HELDOUT : bucket < 4 ? VALIDATION : TRAIN;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SplitMix64's finaliser. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static ToolSchema tool(String name, String description, String parameters) {
        return ToolSchema.newBuilder()
                .setType("function")
                .setName(name)
                .setDescription(description)
                .setParametersJson(parameters)
                .build();
    }
}
