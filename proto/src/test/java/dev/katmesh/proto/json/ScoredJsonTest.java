package dev.katmesh.proto.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TurnAnnotation;
import dev.katmesh.proto.v1.TurnVerdict;
import org.junit.jupiter.api.Test;

/** The OpenAI-chat JSONL form of a scored trajectory: every field back, the extras where other stacks look. */
class ScoredJsonTest {

    /** A scored trajectory with every field of every message set. */
    static ScoredTrajectory full() {
        return ScoredTrajectory.newBuilder()
                .setTrajectory(TrajectoryJsonTest.full())
                .addComponents(RewardComponent.newBuilder()
                        .setName("tests")
                        .setValue(0.75)
                        .setWeight(0.8)
                        .setDetail("3/4 cases"))
                .setReward(0.61)
                .setPlaceholder(true)
                .addErrorMask(false)
                .addErrorMask(false)
                .addErrorMask(false)
                .addErrorMask(true)
                .addErrorMask(false)
                .addTurns(TurnAnnotation.newBuilder()
                        .setMessageIndex(2)
                        .setVerdict(TurnVerdict.TURN_VERDICT_TOOL_ERROR)
                        .setDetail("nonzero exit"))
                .setTaskless(true)
                .setScoredAtMs(1_790_000_000_123L)
                .setScorer("reward-0")
                .setTaskFamily("grep-count")
                .setIgnoredAgentFields(2)
                .addRedactions(Redaction.newBuilder()
                        .setRule("aws-key")
                        .setField("content")
                        .setMessageIndex(3))
                .setRevision(1)
                .addFeedback(Feedback.newBuilder()
                        .setFeedbackId("gh-981")
                        .setKind("pr_merged")
                        .setValue(-0.5)
                        .setFinal(true)
                        .setAtMs(1_790_000_000_000L)
                        .setDetail("reverted")
                        .setPosition("ci:3@17")
                        .setSender("ci")
                        .setReceivedAtMs(1_790_000_000_500L))
                .build();
    }

    @Test
    void aScoredTrajectoryComesBackFieldByField() throws Exception {
        ScoredTrajectory s = full();
        TrajectoryJsonTest.assertEveryFieldSet(s);
        ScoredTrajectory back = ScoredJson.read(ScoredJson.write(s));
        assertFieldByField(s, back, "");
    }

    @Test
    void theLineIsOpenAiChatWithTheScoredFieldsBeside() throws Exception {
        JsonNode line = new ObjectMapper().readTree(ScoredJson.write(full()));
        assertEquals("assistant", line.path("messages").get(2).path("role").asText());
        assertEquals(
                "bash",
                line.path("messages")
                        .get(2)
                        .path("tool_calls")
                        .get(0)
                        .path("function")
                        .path("name")
                        .asText());
        assertEquals(0.61, line.path("reward").asDouble());
        assertEquals(7, line.path("segments").get(1).path("policy_version").asInt(), "versions");
        assertEquals(-0.25, line.path("segments").get(1).path("logprobs").get(0).asDouble(), 1e-7, "log-probs");
        // Tokens 3 and 4 are generated; the (per-token) error mask covers token 3.
        assertEquals("[0,0,0,0,1]", line.path("loss_mask").toString());
        assertArrayEquals(
                new boolean[] {false, false, false, true, true},
                ScoredJson.lossMask(full().toBuilder().setErrorMask(3, false).build()),
                "without the error both generated tokens have a loss");
        assertTrue(ScoredJson.isScored(line));
        assertTrue(!ScoredJson.isScored(new ObjectMapper().readTree(TrajectoryJson.write(full().getTrajectory()))));
    }

    @Test
    void badScoredFieldsAreRefusedWithTheirPath() {
        TrajectoryJsonException e = assertThrows(
                TrajectoryJsonException.class,
                () -> ScoredJson.read(new String(ScoredJson.write(full()))
                        .replace("\"tool_error\"", "\"oops\"")
                        .getBytes()));
        assertTrue(e.getMessage().startsWith("$.turns[0].verdict"), e.getMessage());
        e = assertThrows(
                TrajectoryJsonException.class,
                () -> ScoredJson.read(new String(ScoredJson.write(full()))
                        .replace("\"reward\":0.61", "\"reward\":\"high\"")
                        .getBytes()));
        assertTrue(e.getMessage().startsWith("$.reward"), e.getMessage());
    }

    /** Asserts each field of {@code expected} equals {@code actual}'s, naming the first that differs. */
    static void assertFieldByField(Message expected, Message actual, String path) {
        for (FieldDescriptor f : expected.getDescriptorForType().getFields()) {
            String at = path + "." + f.getName();
            if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()) {
                if (f.isRepeated()) {
                    assertEquals(expected.getRepeatedFieldCount(f), actual.getRepeatedFieldCount(f), at + " count");
                    for (int i = 0; i < expected.getRepeatedFieldCount(f); i++) {
                        assertFieldByField(
                                (Message) expected.getRepeatedField(f, i),
                                (Message) actual.getRepeatedField(f, i),
                                at + "[" + i + "]");
                    }
                } else {
                    assertEquals(expected.hasField(f), actual.hasField(f), at + " presence");
                    assertFieldByField((Message) expected.getField(f), (Message) actual.getField(f), at);
                }
            } else {
                assertEquals(expected.getField(f), actual.getField(f), at);
            }
        }
    }
}
