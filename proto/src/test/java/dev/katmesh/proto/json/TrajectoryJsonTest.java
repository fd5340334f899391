package dev.katmesh.proto.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import dev.katmesh.proto.json.TrajectoryJsonException.Kind;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.v1.TreeLink;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrajectoryJsonTest {

    /** A trajectory with every field of every message set to a non-default value. */
    static Trajectory full() {
        return Trajectory.newBuilder()
                .setTrajectoryId("traj-1")
                .setGroupId("group-1")
                .setTaskId("task-1")
                .setSessionId("sess-1")
                .setAgentId("agent-1")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addMessages(ChatMessage.newBuilder().setRole("system").setContent("You are a coding agent."))
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Fix the bug in ünïcode.py 🚀"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .setReasoningContent("Let me look.")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("call_1")
                                .setType("function")
                                .setName("bash")
                                .setArguments("{\"cmd\":\"cat a.py\"}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("call_1")
                        .setName("bash")
                        .setContent("print('hi')\n"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("Done."))
                .addTools(ToolSchema.newBuilder()
                        .setType("function")
                        .setName("bash")
                        .setDescription("Run a command")
                        .setParametersJson("{\"type\":\"object\",\"properties\":{\"cmd\":{\"type\":\"string\"}}}"))
                .addSteps(ToolStep.newBuilder()
                        .setMessageIndex(3)
                        .setToolCallId("call_1")
                        .setToolName("bash")
                        .setArguments("{\"cmd\":\"cat a.py\"}")
                        .setOutput("print('hi')\n")
                        .setExitCode(-2)
                        .setErrorClass("nonzero_exit")
                        .setDurationMs(42))
                .addAllTokenIds(List.of(1, 2, 3, 151643, 0xFFFF_FFFF))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(0)
                        .setEnd(3)
                        .setGenerated(false)
                        .setMessageIndex(1))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(3)
                        .setEnd(5)
                        .setGenerated(true)
                        .setPolicyVersion(7)
                        .addLogprobs(-0.25f)
                        .addLogprobs(-1.5e-7f)
                        .setMessageIndex(2))
                .setTree(TreeLink.newBuilder()
                        .setParentTrajectoryId("traj-0")
                        .setBranchMessageIndex(2)
                        .setBranchTokenIndex(3))
                .setOutcome(Outcome.newBuilder()
                        .setSubmitted(true)
                        .setKind(SolutionKind.SOLUTION_KIND_PATCH)
                        .setContent("--- a/a.py\n+++ b/a.py\n")
                        .setPath("a.py")
                        .setFeedback(-0.5)
                        .addTestResults(TestResult.newBuilder()
                                .setName("unit::test_a")
                                .setPassed(true)
                                .setPassedCases(3)
                                .setTotalCases(4)
                                .setOutput("ok")
                                .setDurationMs(9)))
                .setCreatedAtMs(1_790_000_000_000L)
                .setModel("katmesh-tiny")
                .addCapturedRequestIds("chatcmpl-1")
                .addCapturedRequestIds("chatcmpl-2")
                .putMetadata("harness", "swe-agent")
                .putMetadata("version", "1.2")
                .build();
    }

    @Test
    void roundTripKeepsEveryField() throws Exception {
        Trajectory t = full();
        assertEveryFieldSet(t);
        Trajectory back = TrajectoryJson.parse(TrajectoryJson.write(t)).trajectory();
        assertEquals(t, back, "proto -> JSON -> proto must be the identity");
    }

    @Test
    void roundTripOfAMinimalTrajectory() throws Exception {
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                .build();
        assertEquals(t, TrajectoryJson.parse(TrajectoryJson.write(t)).trajectory());
    }

    /** Guards the round-trip test itself: a field added to the .proto but not to full() fails here. */
    static void assertEveryFieldSet(Message m) {
        for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
            if (f.isRepeated()) {
                assertTrue(m.getRepeatedFieldCount(f) > 0, "test fixture leaves " + f.getFullName() + " empty");
                if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()) {
                    for (int i = 0; i < m.getRepeatedFieldCount(f); i++) {
                        Message child = (Message) m.getRepeatedField(f, i);
                        if (!(child.getDescriptorForType().getName().equals("ChatMessage")
                                || child.getDescriptorForType().getName().equals("TokenSegment"))) {
                            assertEveryFieldSet(child);
                        }
                    }
                }
            } else {
                assertTrue(m.hasField(f), "test fixture leaves " + f.getFullName() + " unset");
                if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                    assertEveryFieldSet((Message) m.getField(f));
                }
            }
        }
    }

    @Test
    void readsTheOpenAiChatFormat() throws Exception {
        String json = """
                {"trajectory_id":"t","group_id":"g",
                 "messages":[
                   {"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},
                   {"role":"assistant","content":null,"refusal":null,
                    "tool_calls":[{"id":"c1","type":"function","function":{"name":"edit","arguments":{"path":"a.py"}}}]},
                   {"role":"tool","tool_call_id":"c1","content":"ok"}],
                 "tools":[{"type":"function","function":{"name":"edit","parameters":{"type":"object"}}}]}
                """;
        Trajectory t =
                TrajectoryJson.parse(json.getBytes(StandardCharsets.UTF_8)).trajectory();
        assertEquals("ab", t.getMessages(0).getContent(), "text parts are concatenated, other parts skipped");
        assertEquals("", t.getMessages(1).getContent(), "null content is empty");
        assertEquals(
                "{\"path\":\"a.py\"}",
                t.getMessages(1).getToolCalls(0).getArguments(),
                "object arguments are kept as JSON text");
        assertEquals("{\"type\":\"object\"}", t.getTools(0).getParametersJson());
        assertEquals(
                TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, t.getSource(), "JSON trajectories default to deployed");
    }

    @Test
    void agentSetRewardsAndMasksAreIgnoredAndReported() throws Exception {
        String json = """
                {"trajectory_id":"t","group_id":"g","reward":1.0,"error_mask":[true],
                 "messages":[{"role":"user","content":"x","advantage":3}],
                 "outcome":{"submitted":true,"rewards":{"tests":1}}}
                """;
        TrajectoryJson.Parsed p = TrajectoryJson.parse(json.getBytes(StandardCharsets.UTF_8));
        assertEquals(
                List.of("$.messages[0].advantage", "$.outcome.rewards", "$.reward", "$.error_mask").stream()
                        .sorted()
                        .toList(),
                p.ignoredAgentFields().stream().sorted().toList());
    }

    @Test
    void errorsNameTheirPathAndKind() {
        assertError(Kind.MALFORMED_JSON, "$", "{\"trajectory_id\":");
        assertError(Kind.MALFORMED_JSON, "$", "{\"a\":1,\"a\":2}");
        assertError(Kind.MALFORMED_JSON, "$", "{} {}");
        assertError(Kind.WRONG_TYPE, "$", "[1,2]");
        assertError(Kind.WRONG_TYPE, "$.trajectory_id", "{\"trajectory_id\":5}");
        assertError(Kind.MISSING_FIELD, "$.group_id", "{\"trajectory_id\":\"t\"}");
        assertError(Kind.MISSING_FIELD, "$.messages", "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[]}");
        assertError(
                Kind.WRONG_TYPE,
                "$.messages[0].content",
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":7}]}");
        assertError(
                Kind.INVALID_VALUE,
                "$.messages[0].role",
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"robot\"}]}");
        assertError(
                Kind.INVALID_VALUE,
                "$.token_ids[1]",
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\"}],\"token_ids\":[1,-2]}");
        assertError(
                Kind.WRONG_TYPE,
                "$.token_ids[0]",
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\"}],\"token_ids\":[1.5]}");
        assertError(
                Kind.INVALID_VALUE,
                "$.source",
                "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"source\":\"robot\",\"messages\":[{\"role\":\"user\"}]}");
        assertError(Kind.MALFORMED_JSON, "$", "[".repeat(100) + "]".repeat(100));
    }

    /**
     * Text survives byte for byte or is refused: a JSON escape of a lone surrogate (which protobuf would write as '?')
     * is refused with the string's path, wherever it is; a pair of escapes for one character is kept exactly.
     */
    @Test
    void stringsThatAreNotUnicodeAreRefusedAndPairsAreKept() throws Exception {
        String head = "{\"trajectory_id\":\"t\",\"group_id\":\"g\",";
        assertError(
                Kind.INVALID_TEXT,
                "$.messages[0].content",
                head + "\"messages\":[{\"role\":\"user\",\"content\":\"a\\ud800b\"}]}");
        assertError(
                Kind.INVALID_TEXT,
                "$.messages[0].content",
                head + "\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\"}]}");
        assertError(
                Kind.INVALID_TEXT,
                "$.messages[0].tool_calls[0].function.arguments.path",
                head + "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
                        + "\"function\":{\"name\":\"edit\",\"arguments\":{\"path\":\"\\ud83d.py\"}}}]}]}");
        // In a field name the parser itself refuses a surrogate without its pair.
        for (String name : List.of("\\ud800", "\\udc00")) {
            assertError(
                    Kind.MALFORMED_JSON,
                    "$",
                    head + "\"messages\":[{\"role\":\"user\"}],\"metadata\":{\"" + name + "\":\"x\"}}");
        }
        Trajectory kept = TrajectoryJson.parse(
                        (head + "\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00 ok\"}]}")
                                .getBytes(StandardCharsets.UTF_8))
                .trajectory();
        assertEquals("\ud83d\ude00 ok", kept.getMessages(0).getContent());
        assertEquals(
                kept.getMessages(0).getContent(),
                Trajectory.parseFrom(kept.toByteArray()).getMessages(0).getContent(),
                "the pair survives protobuf");
    }

    private static void assertError(Kind kind, String path, String json) {
        TrajectoryJsonException e = assertThrows(
                TrajectoryJsonException.class,
                () -> TrajectoryJson.parse(json.getBytes(StandardCharsets.UTF_8)),
                "must refuse " + json);
        assertEquals(kind, e.kind(), "kind for " + json + " (" + e.getMessage() + ")");
        assertEquals(path, e.path(), "path for " + json + " (" + e.getMessage() + ")");
    }
}
