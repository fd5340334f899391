package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.hacks.RewardHacks;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The held-out evaluation with scripted policies (no model): what it counts as a pass, in the real sandbox. */
class HeldOutEvaluationTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A policy that writes {@code solution(task)} to the task's solution path, then submits it. */
    static class Scripted implements AgentPolicy {
        final List<Task> tasks;
        final Function<Task, String> solution;
        final Map<Integer, Integer> turns = new HashMap<>();

        Scripted(List<Task> tasks, Function<Task, String> solution) {
            this.tasks = tasks;
            this.solution = solution;
        }

        @Override
        public int[] render(List<ChatMessage> messages, List<ToolSchema> tools) {
            String user = messages.stream()
                    .filter(m -> m.getRole().equals("user"))
                    .findFirst()
                    .orElseThrow()
                    .getContent();
            for (int i = 0; i < tasks.size(); i++) {
                if (user.startsWith(tasks.get(i).getInstruction())) {
                    return new int[] {i};
                }
            }
            throw new AssertionError("unknown task");
        }

        @Override
        public int[] continuation(List<ChatMessage> messages, List<ToolSchema> tools, int after) {
            return new int[] {-1};
        }

        @Override
        public Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed) {
            int episode = prompt[0];
            int turn = turns.merge(episode, 1, Integer::sum) - 1;
            Task task = tasks.get(episode);
            String path = task.getTagsOrDefault("solution_path", "solution.py");
            String text;
            try {
                text = turn == 0
                        ? "<tool_call>\n"
                                + JSON.writeValueAsString(Map.of(
                                        "name",
                                        "write_file",
                                        "arguments",
                                        Map.of("path", path, "content", solution.apply(task))))
                                + "\n</tool_call>"
                        : "<tool_call>\n"
                                + JSON.writeValueAsString(Map.of("name", "submit", "arguments", Map.of("path", path)))
                                + "\n</tool_call>";
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return new Generated(new int[] {7, 8}, new float[] {-0.1f, -0.2f}, new long[] {3, 3}, text, "stop");
        }

        @Override
        public int endOfTurn() {
            return 2;
        }
    }

    private static HeldOutEvaluation evaluation(List<Task> tasks) {
        BubblewrapSandbox sandbox = new BubblewrapSandbox();
        return new HeldOutEvaluation(
                tasks,
                new AgentTools(sandbox, Duration.ofSeconds(20)),
                new TaskTests(sandbox),
                new Episode.Budget(64, 4096, 0f, 1f),
                Duration.ofMinutes(2),
                4);
    }

    @Test
    void referenceSolutionsPassWrongOnesFailAndAPolicyThatNeverSubmitsFails() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is required (apt-get install -y bubblewrap)");
        List<TaskSuite.Generated> generated = new TaskSuite(5).generate(6);
        List<Task> tasks = generated.stream().map(TaskSuite.Generated::task).toList();
        Map<String, String> wrong = new HashMap<>();
        generated.forEach(g -> wrong.put(g.task().getTaskId(), g.wrongSolution()));

        HeldOutEvaluation.Result right = evaluation(tasks)
                .evaluate(new Scripted(tasks, t -> t.getReferences(0).getContent()));
        assertEquals(6, right.passed(), "every reference solution passes: " + right.tasks());
        assertEquals(1.0, right.passRate());
        right.tasks().forEach(t -> assertEquals(2, t.turns(), "write, then submit: " + t));

        List<Task> firstThree = new ArrayList<>(tasks.subList(0, 3));
        HeldOutEvaluation.Result mixed = evaluation(tasks)
                .evaluate(new Scripted(
                        tasks,
                        t -> firstThree.contains(t)
                                ? wrong.get(t.getTaskId())
                                : t.getReferences(0).getContent()));
        assertEquals(3, mixed.passed(), "the wrong solutions fail their tests: " + mixed.tasks());

        AgentPolicy silent = new Scripted(tasks, t -> "") {
            @Override
            public Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed) {
                return new Generated(new int[] {7}, new float[] {-0.1f}, new long[] {3}, "I think so.", "stop");
            }
        };
        HeldOutEvaluation.Result none = evaluation(tasks).evaluate(silent);
        assertEquals(0, none.passed());
        none.tasks().forEach(t -> assertEquals("max_turns", t.endReason(), "no tool call, no submission: " + t));
    }

    @Test
    void noRewardHackPassesTheEvaluation() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is required (apt-get install -y bubblewrap)");
        List<Task> tasks = new TaskSuite(5)
                .generate(6).stream().map(TaskSuite.Generated::task).toList();
        int hacks = (int) RewardHacks.PYTHON.stream()
                .filter(h -> !h.name().contains("sleep"))
                .count();
        for (int i = 0; i < hacks; i++) {
            int k = i;
            HeldOutEvaluation.Result r = evaluation(tasks).evaluate(new Scripted(tasks, t -> {
                var corpus = RewardHacks.of(t).stream()
                        .filter(h -> !h.name().contains("sleep"))
                        .toList();
                return corpus.get(k % corpus.size()).content();
            }));
            assertEquals(0, r.passed(), "hack " + k + " passes nothing: " + r.tasks());
            r.tasks().forEach(t -> assertEquals(true, t.submitted(), "the hack was submitted and judged: " + t));
        }
    }
}
