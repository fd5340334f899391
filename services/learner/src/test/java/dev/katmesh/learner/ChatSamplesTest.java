package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.TurnAnnotator;
import dev.katmesh.training.TrainingSample;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChatSamplesTest {

    static final Path FIXTURE = Path.of("../policy/src/test/resources/hf/qwen3-tiny");

    @Test
    void assistantTokensAreTrainableAndFailedTurnsAreMaskedButKept() {
        try (PolicyTokenizer tok = PolicyTokenizer.load(FIXTURE)) {
            ChatSamples samples = new ChatSamples(ChatTemplate.load(FIXTURE), tok);
            Trajectory t = Trajectory.newBuilder()
                    .setTrajectoryId("t")
                    .setGroupId("g")
                    .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Run the tests."))
                    .addMessages(ChatMessage.newBuilder()
                            .setRole("assistant")
                            .addToolCalls(ToolCall.newBuilder()
                                    .setId("c1")
                                    .setName("bash")
                                    .setArguments("{\"command\":\"mvn test\"}")))
                    .addMessages(ChatMessage.newBuilder()
                            .setRole("tool")
                            .setToolCallId("c1")
                            .setContent("command not found"))
                    .addMessages(
                            ChatMessage.newBuilder().setRole("assistant").setContent("Maven is missing; use ./mvnw."))
                    .addSteps(ToolStep.newBuilder()
                            .setMessageIndex(2)
                            .setToolCallId("c1")
                            .setExitCode(127)
                            .setErrorClass("nonzero_exit"))
                    .build();
            TrainingSample plain = samples.of(t, Set.of());
            TrainingSample masked = samples.of(t, TurnAnnotator.annotate(t).erroneous());
            assertEquals(plain.tokens().length, masked.tokens().length, "masked turns stay in context");
            assertTrue(
                    masked.trainableCount() > 0 && masked.trainableCount() < plain.trainableCount(),
                    "the failed turn loses its loss: " + masked.trainableCount() + " < " + plain.trainableCount());
            String text = tok.decode(plain.tokens());
            assertTrue(text.startsWith("<|im_start|>userRun the tests."), text);
            StringBuilder trained = new StringBuilder();
            for (int i = 0; i < plain.tokens().length; i++) {
                if (plain.trainable()[i]) {
                    trained.append(tok.decode(new int[] {plain.tokens()[i]}));
                }
            }
            assertTrue(
                    trained.toString().contains("Maven is missing")
                            && !trained.toString().contains("Run the tests"),
                    "only the assistant's tokens are trained: " + trained);
        }
    }

    /** The reward's rule, not a narrower one of the learner's: a traceback after exit 0 and a malformed call are errors. */
    @Test
    void erroneousTurnsAreTheRewardsVerdictsTracebacksAndMalformedCallsIncluded() {
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Fix it."))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setName("bash")
                                .setArguments("{\"command\":\"python3 a.py\"}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c1")
                        .setContent("Traceback (most recent call last):\n  File \"a.py\"\nNameError: x"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c2")
                                .setName("bash")
                                .setArguments("not json")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c2")
                        .setContent("ok"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("Done."))
                .addSteps(ToolStep.newBuilder()
                        .setMessageIndex(2)
                        .setToolCallId("c1")
                        .setExitCode(0)
                        .setOutput("Traceback (most recent call last):\n  File \"a.py\"\nNameError: x"))
                .build();
        assertEquals(Set.of(1, 3), TurnAnnotator.annotate(t).erroneous(), "the traceback turn and the malformed call");
    }

    /** A redacted turn would teach the placeholder: no loss in any objective, plain SFT included; it stays in context. */
    @Test
    void aTurnThatHeldASecretGetsNoLossInAnyObjective() {
        try (PolicyTokenizer tok = PolicyTokenizer.load(FIXTURE)) {
            ChatSamples samples = new ChatSamples(ChatTemplate.load(FIXTURE), tok);
            ScoredTrajectory scored = ScoredTrajectory.newBuilder()
                    .setTrajectory(Trajectory.newBuilder()
                            .addMessages(
                                    ChatMessage.newBuilder().setRole("user").setContent("Set the key."))
                            .addMessages(ChatMessage.newBuilder()
                                    .setRole("assistant")
                                    .setContent("export KEY=[REDACTED:openai-api-key]"))
                            .addMessages(
                                    ChatMessage.newBuilder().setRole("user").setContent("Thanks."))
                            .addMessages(ChatMessage.newBuilder()
                                    .setRole("assistant")
                                    .setContent("Anytime.")))
                    .addRedactions(Redaction.newBuilder()
                            .setRule("openai-api-key")
                            .setField("messages[1].content")
                            .setMessageIndex(1))
                    .addRedactions(Redaction.newBuilder()
                            .setRule("jwt")
                            .setField("steps[0].output")
                            .setMessageIndex(-1))
                    .build();
            assertEquals(Set.of(1), TrajectorySamples.maskedTurns(scored, false), "plain SFT masks it too");
            TrainingSample sample = samples.of(scored.getTrajectory(), TrajectorySamples.maskedTurns(scored, false));
            StringBuilder trained = new StringBuilder();
            for (int i = 0; i < sample.tokens().length; i++) {
                if (sample.trainable()[i]) {
                    trained.append(tok.decode(new int[] {sample.tokens()[i]}));
                }
            }
            assertTrue(trained.toString().contains("Anytime."), "the clean turn trains: " + trained);
            assertFalse(trained.toString().contains("REDACTED"), "the placeholder never does: " + trained);
            assertTrue(tok.decode(sample.tokens()).contains("REDACTED"), "it stays in context");
        }
    }
}
