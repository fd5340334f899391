package dev.katmesh.reward.score;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TurnVerdict;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.TaskSuite;
import dev.katmesh.tasks.TaskTests;
import dev.katmesh.tasks.TurnAnnotator;
import dev.katmesh.tasks.hacks.RewardHacks;
import java.util.List;
import org.junit.jupiter.api.Test;

class MultiGroundTruthRewardTest {

    static final MultiGroundTruthReward REWARD =
            new MultiGroundTruthReward(new TaskTests(new BubblewrapSandbox()), RewardWeights.defaults());

    static Trajectory submitting(Task task, String content) {
        return Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .setTaskId(task.getTaskId())
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent(task.getInstruction()))
                .setOutcome(Outcome.newBuilder()
                        .setSubmitted(true)
                        .setKind(SolutionKind.SOLUTION_KIND_FILE)
                        .setPath(task.getTagsOrThrow("solution_path"))
                        .setContent(content))
                .build();
    }

    static double component(ScoredTrajectory s, String name) {
        return s.getComponentsList().stream()
                .filter(c -> c.getName().equals(name))
                .mapToDouble(RewardComponent::getValue)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no component " + name + " in " + s.getComponentsList()));
    }

    @Test
    void aCorrectSolutionEarnsTheTestsAndItsClosestReference() throws Exception {
        assumeTrue(BubblewrapSandbox.available());
        TaskSuite.Generated g = new TaskSuite(11).variant(0); // offset-sum: three references
        Task task = g.task();
        String second = task.getReferences(1).getContent();
        ScoredTrajectory s = REWARD.score(submitting(task, second), task, 0, 1);
        assertEquals(1.0, component(s, "tests"), 1e-9);
        assertEquals(1.0, component(s, "reference_similarity"), 1e-9, "the identical reference wins");
        assertTrue(
                s.getComponentsList().stream().anyMatch(c -> c.getDetail().equals("closest reference: ref-1")),
                s.getComponentsList().toString());
        assertEquals(0.0, component(s, "format_penalty"));
        assertEquals(1.0 + 0.2, s.getReward(), 1e-9);
        assertTrue(!s.getPlaceholder() && !s.getTaskless());
        assertEquals(task.getTagsOrThrow("template"), s.getTaskFamily(), "the task's family, for ranges of the log");

        ScoredTrajectory wrong = REWARD.score(submitting(task, g.wrongSolution()), task, 0, 1);
        assertEquals(0.0, component(wrong, "tests"), 1e-9, "every case fails");
        assertTrue(wrong.getReward() < s.getReward());
    }

    @Test
    void partialCreditCountsPassingCases() throws Exception {
        assumeTrue(BubblewrapSandbox.available());
        Task task = new TaskSuite(11).variant(3).task(); // fibonacci-mod: F(2) = 1 is among the judged cases
        ScoredTrajectory s = REWARD.score(submitting(task, "def solve(n):\n    return 1\n"), task, 0, 1);
        double pass = component(s, "tests");
        assertTrue(pass > 0 && pass < 1, "some cases pass: " + pass);
    }

    @Test
    void theRelativeFormWeighsTheWayLeftToTheNearestReference() throws Exception {
        assumeTrue(BubblewrapSandbox.available());
        TaskSuite.Generated g = new TaskSuite(11).variant(0);
        Task task = g.task();
        String second = task.getReferences(1).getContent();
        MultiGroundTruthReward relative = new MultiGroundTruthReward(
                new TaskTests(new BubblewrapSandbox()),
                new RewardWeights(1, 0.2, 0.5, 0, 0, RewardWeights.SimilarityForm.RELATIVE));
        ScoredTrajectory s = relative.score(submitting(task, second + "\n# done\n"), task, 0, 1);
        double progress = component(s, "reference_progress");
        assertTrue(progress > 0.9 && progress < 1, "a comment short of a reference is nearly all the way: " + progress);
        assertEquals(1.0 + 0.2 * progress, s.getReward(), 1e-9, "the relative form is the one weighed");
        ScoredTrajectory absolute = REWARD.score(submitting(task, second + "\n# done\n"), task, 0, 1);
        assertEquals(
                1.0 + 0.2 * component(absolute, "reference_similarity"),
                absolute.getReward(),
                1e-9,
                "by default the absolute form is weighed, the relative one kept beside it");
        assertEquals(progress, component(absolute, "reference_progress"), 1e-9);
    }

    @Test
    void noSubmissionAndMalformedCallsArePenalised() throws Exception {
        Task task = new TaskSuite(11).variant(1).task();
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .setTaskId(task.getTaskId())
                .addAllTools(task.getToolsList())
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("go"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setName("bash")
                                .setArguments("{not json")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c1")
                        .setContent("error"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c2")
                                .setName("rm_rf")
                                .setArguments("{}")))
                .build();
        ScoredTrajectory s = REWARD.score(t, task, 0, 1);
        assertEquals(1.0, component(s, "format_penalty"), "no submission (1) + 2 malformed calls, capped at 1");
        assertEquals(0.0, component(s, "tests"));
        assertEquals(-0.5, s.getReward(), 1e-9);
        assertEquals(TurnVerdict.TURN_VERDICT_MALFORMED_CALL, s.getTurns(0).getVerdict());
        assertEquals(TurnVerdict.TURN_VERDICT_MALFORMED_CALL, s.getTurns(1).getVerdict());
    }

    @Test
    void deployedSessionsWithoutATaskGetWhatApplies() throws Exception {
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("fix it"))
                .setOutcome(Outcome.newBuilder()
                        .setSubmitted(true)
                        .setContent("done")
                        .setFeedback(1.0)
                        .addTestResults(TestResult.newBuilder().setName("a").setPassed(true))
                        .addTestResults(TestResult.newBuilder().setName("b").setPassed(false)))
                .build();
        ScoredTrajectory s = REWARD.score(t, null, 2, 1);
        assertTrue(s.getTaskless());
        assertEquals(0.5, component(s, "unverified_tests"), 1e-9, "the agent's claim is kept");
        assertEquals(1.0, component(s, "unverified_feedback"), 1e-9);
        assertEquals(0.0, s.getReward(), 1e-9, "claims the reward did not verify earn nothing by default");
        ScoredTrajectory weighted = new MultiGroundTruthReward(
                        new TaskTests(new BubblewrapSandbox()),
                        new RewardWeights(1, 0.2, 0.5, 1.0, 0.5, RewardWeights.SimilarityForm.ABSOLUTE))
                .score(t, null, 2, 1);
        assertEquals(0.5 + 0.5, weighted.getReward(), 1e-9, "an operator may weight them");
        assertEquals(2, s.getIgnoredAgentFields());
        assertEquals("", s.getTaskFamily(), "no task, no family");
    }

    @Test
    void errorMasksCoverTheFailingTurnAndNotItsFix() throws Exception {
        // user | assistant runs "pytest" (exit 1) | tool | assistant runs it again (exit 0) | tool
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .addTools(ToolSchema.newBuilder().setType("function").setName("bash"))
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("make the tests pass"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setName("bash")
                                .setArguments("{\"command\":\"pytst\"}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c1")
                        .setContent("pytst: not found"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c2")
                                .setName("bash")
                                .setArguments("{\"command\":\"pytest\"}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c2")
                        .setContent("1 passed"))
                .addSteps(ToolStep.newBuilder()
                        .setMessageIndex(2)
                        .setToolCallId("c1")
                        .setToolName("bash")
                        .setExitCode(127))
                .addSteps(ToolStep.newBuilder()
                        .setMessageIndex(4)
                        .setToolCallId("c2")
                        .setToolName("bash")
                        .setExitCode(0))
                .addAllTokenIds(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
                .addSegments(TokenSegment.newBuilder().setStart(0).setEnd(2).setMessageIndex(0))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(2)
                        .setEnd(5)
                        .setGenerated(true)
                        .setMessageIndex(1))
                .addSegments(TokenSegment.newBuilder().setStart(5).setEnd(6).setMessageIndex(2))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(6)
                        .setEnd(9)
                        .setGenerated(true)
                        .setMessageIndex(3))
                .addSegments(TokenSegment.newBuilder().setStart(9).setEnd(10).setMessageIndex(4))
                .build();
        TurnAnnotator.Annotation a = TurnAnnotator.annotate(t);
        assertEquals(TurnVerdict.TURN_VERDICT_TOOL_ERROR, a.turns().get(0).getVerdict());
        assertEquals("exit code 127", a.turns().get(0).getDetail());
        assertEquals(TurnVerdict.TURN_VERDICT_OK, a.turns().get(1).getVerdict());
        assertEquals(
                List.of(false, false, true, true, true, false, false, false, false, false),
                a.errorMask(),
                "the failing turn's generated tokens, and only those");
    }

    @Test
    void everyRewardHackScoresZero() throws Exception {
        assumeTrue(BubblewrapSandbox.available());
        for (TaskSuite.Generated g : new TaskSuite(17).generate(6)) {
            Task task = g.task();
            for (RewardHacks.Hack hack : RewardHacks.of(task)) {
                if (hack.name().contains("sleep")
                        && !task.getTagsOrThrow("template").equals("grep-count")) {
                    continue; // the slow ones once (the judge's own test runs them on Python)
                }
                ScoredTrajectory s = REWARD.score(submitting(task, hack.content()), task, 0, 1);
                assertEquals(
                        0.0,
                        component(s, "tests"),
                        1e-9,
                        task.getTaskId() + " '" + hack.name() + "': " + s.getComponentsList());
                assertEquals(
                        0.0,
                        s.getReward(),
                        1e-9,
                        task.getTaskId() + " '" + hack.name() + "' scores 0: " + s.getComponentsList());
            }
        }
    }
}
