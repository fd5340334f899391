package dev.katmesh.secrets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrajectoryRedactorTest {

    private final TrajectoryRedactor redactor = new TrajectoryRedactor(SecretScanner.standard());
    private final SecretCorpus corpus = new SecretCorpus(11);

    @Test
    void everyTextAnAgentSawOrWroteIsRedactedAndTheTokensThatSpelledItGo() {
        String aws = "AKIA" + corpus.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
        String hf = "hf_" + corpus.chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 34);
        String args = "{\"command\": \"export AWS_ACCESS_KEY_ID=" + aws + " && aws s3 ls\"}";
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t1")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("my token is " + hf))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .setReasoningContent("I will use " + aws)
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setName("bash")
                                .setArguments(args)))
                .addMessages(ChatMessage.newBuilder().setRole("tool").setContent("HF_TOKEN=" + hf))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("done"))
                .addSteps(ToolStep.newBuilder().setArguments(args).setOutput("HF_TOKEN=" + hf))
                .setOutcome(Outcome.newBuilder()
                        .setContent("KEY = '" + aws + "'")
                        .addTestResults(TestResult.newBuilder().setOutput("env: HF=" + hf)))
                .putMetadata("harness", "cli " + hf)
                .addAllTokenIds(List.of(5, 6, 7, 8))
                .addSegments(TokenSegment.newBuilder().setStart(0).setEnd(4).setGenerated(true))
                .build();
        ScoredTrajectory scored = ScoredTrajectory.newBuilder()
                .setTrajectory(t)
                .addComponents(RewardComponent.newBuilder().setName("tests").setDetail("printed " + aws))
                .addAllErrorMask(List.of(false, false, true, false))
                .build();

        ScoredTrajectory r = redactor.redact(scored);
        String bytes = r.toString();
        assertFalse(bytes.contains(aws) || bytes.contains(hf), "no secret left anywhere:\n" + bytes);
        Trajectory out = r.getTrajectory();
        assertEquals(
                "my token is [REDACTED:huggingface-token]", out.getMessages(0).getContent());
        assertEquals(
                "{\"command\": \"export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key-id] && aws s3 ls\"}",
                out.getMessages(1).getToolCalls(0).getArguments(),
                "the arguments stay the JSON they were");
        assertEquals(0, out.getTokenIdsCount(), "token ids spelled the secrets");
        assertEquals(0, out.getSegmentsCount());
        assertEquals(0, r.getErrorMaskCount(), "the mask was aligned with the dropped tokens");
        assertEquals("done", out.getMessages(3).getContent(), "the rest is kept");
        assertEquals(
                List.of(
                        "huggingface-token@messages[0].content#0",
                        "aws-access-key-id@messages[1].reasoning_content#1",
                        "aws-access-key-id@messages[1].tool_calls[0].arguments#1",
                        "huggingface-token@messages[2].content#2",
                        "aws-access-key-id@steps[0].arguments#-1",
                        "huggingface-token@steps[0].output#-1",
                        "aws-access-key-id@outcome.content#-1",
                        "huggingface-token@outcome.test_results[0].output#-1",
                        "huggingface-token@metadata[harness]#-1",
                        "aws-access-key-id@components[0].detail#-1"),
                r.getRedactionsList().stream()
                        .map(TrajectoryRedactorTest::where)
                        .toList());
        assertEquals(r.getRedactionsList().subList(0, 9), redactor.find(t), "find reports what redact replaces");
        assertEquals(r, redactor.redact(r), "redacting a redacted record changes nothing");
    }

    @Test
    void aCleanRecordIsReturnedAsItIs() {
        ScoredTrajectory clean = ScoredTrajectory.newBuilder()
                .setTrajectory(Trajectory.newBuilder()
                        .addMessages(ChatMessage.newBuilder().setRole("user").setContent("fix the failing test"))
                        .addAllTokenIds(List.of(1, 2)))
                .build();
        assertSame(clean, redactor.redact(clean));
    }

    private static String where(Redaction r) {
        return r.getRule() + "@" + r.getField() + "#" + r.getMessageIndex();
    }
}
