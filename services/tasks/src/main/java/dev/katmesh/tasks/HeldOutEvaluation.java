package dev.katmesh.tasks;

import com.google.protobuf.util.JsonFormat;
import dev.katmesh.proto.v1.Task;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The pass rate of a policy on evaluation tasks (the validation and held-out splits): one greedy agent
 * episode per task (the same loop, tools and sandbox as rollout), and the submitted file judged on the
 * task's judged cases ({@link TaskTests}), which the agent never saw. A task passes when the agent
 * submitted a solution and every case passed; no submission is a failure.
 *
 * <p>Greedy decoding makes the figure a property of the weights: evaluating the same version twice gives
 * the same result, so a change between versions is the training's doing, not the sampler's.
 */
public final class HeldOutEvaluation {

    /** One task's outcome. */
    public record TaskResult(
            String taskId,
            String template,
            String split,
            boolean passed,
            boolean submitted,
            int turns,
            String endReason) {}

    /** All tasks' outcomes. */
    public record Result(List<TaskResult> tasks, long wallMs) {
        public int passed() {
            return (int) tasks.stream().filter(TaskResult::passed).count();
        }

        public double passRate() {
            return tasks.isEmpty() ? 0 : (double) passed() / tasks.size();
        }
    }

    private final List<Task> tasks;
    private final AgentTools tools;
    private final TaskTests tests;
    private final Episode.Budget budget;
    private final Duration episodeTimeout;
    private final int maxTurns;

    /**
     * @param episodeTimeout the time all episodes of one evaluation may take together
     * @param maxTurns       turns per episode (a task's own limit applies when lower)
     */
    public HeldOutEvaluation(
            List<Task> tasks,
            AgentTools tools,
            TaskTests tests,
            Episode.Budget budget,
            Duration episodeTimeout,
            int maxTurns) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("no held-out tasks to evaluate on");
        }
        this.tasks = List.copyOf(tasks);
        this.tools = tools;
        this.tests = tests;
        this.budget = budget;
        this.episodeTimeout = episodeTimeout;
        this.maxTurns = maxTurns;
    }

    /** Reads tasks written by {@code ./katmesh tasks generate} (one protobuf-JSON Task per line). */
    public static List<Task> readTasks(Path jsonl) throws IOException {
        List<Task> out = new ArrayList<>();
        JsonFormat.Parser parser = JsonFormat.parser().ignoringUnknownFields();
        int line = 0;
        for (String s : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            line++;
            if (s.isBlank()) {
                continue;
            }
            Task.Builder b = Task.newBuilder();
            try {
                parser.merge(s, b);
            } catch (IOException e) {
                throw new IOException(jsonl + ":" + line + ": not a task: " + e.getMessage(), e);
            }
            out.add(b.build());
        }
        return out;
    }

    public int size() {
        return tasks.size();
    }

    /**
     * Runs every task once with {@code policy}, greedily. The episodes advance together, one turn each
     * per round, so a batching policy decodes all their turns in one loop.
     */
    public Result evaluate(AgentPolicy policy) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        long deadline = t0 + episodeTimeout.toNanos();
        List<Episode> episodes = new ArrayList<>();
        try {
            for (Task task : tasks) {
                episodes.add(Episode.start(task, task.getTaskId() + "-eval", task.getTaskId(), 0));
            }
            List<Episode> live = new ArrayList<>(episodes);
            while (!live.isEmpty()) {
                List<Episode> turn = new ArrayList<>();
                List<int[]> prompts = new ArrayList<>();
                for (Episode e : live) {
                    int[] p = e.prompt(policy, budget);
                    if (p != null) {
                        turn.add(e);
                        prompts.add(p);
                    }
                }
                int[] maxNew = prompts.stream()
                        .mapToInt(p -> Math.min(budget.maxNewTokens(), budget.maxContextTokens() - p.length))
                        .toArray();
                long[] seeds = turn.stream().mapToLong(Episode::sampleSeed).toArray();
                List<AgentPolicy.Generated> generated = prompts.isEmpty()
                        ? List.of()
                        : policy.generateAll(prompts, maxNew, budget.temperature(), budget.topP(), seeds);
                live.clear();
                for (int i = 0; i < turn.size(); i++) {
                    Episode e = turn.get(i);
                    if (e.apply(generated.get(i), policy, tools, e.turnLimit(maxTurns), deadline)) {
                        live.add(e);
                    }
                }
            }
            List<TaskResult> out = new ArrayList<>();
            for (Episode e : episodes) {
                Task task = e.task;
                boolean passed = false;
                String solution =
                        e.submittedPath.isEmpty() ? null : AgentTools.readSubmission(e.workspace, e.submittedPath);
                if (solution != null) {
                    passed = tests.passes(task, e.submittedPath, solution);
                }
                out.add(new TaskResult(
                        task.getTaskId(),
                        task.getTagsOrDefault("template", ""),
                        task.getSplit(),
                        passed,
                        solution != null,
                        e.turns,
                        e.endReason));
            }
            return new Result(out, (System.nanoTime() - t0) / 1_000_000);
        } finally {
            episodes.forEach(Episode::cleanUp);
        }
    }
}
