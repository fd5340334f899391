package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bad input on katmesh.trajectories.raw: every bad record reaches katmesh.trajectories.dlq unchanged
 * with its reason, good records around them are still scored, nothing is lost and every service stays UP.
 */
class BadInputIT {

    static Mesh mesh;

    @BeforeAll
    static void up() throws Exception {
        // A vocabulary of 1000 token ids, so that out-of-vocabulary ids can be tested.
        mesh = Mesh.up("bad-input", Map.of("KATMESH_REWARD_OPTS", "-Dkatmesh.reward.vocab-size=1000"));
    }

    @AfterAll
    static void down() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
    }

    record Case(String reason, String contentType, byte[] value, boolean viaKcat) {}

    @Test
    void everyBadRecordIsDeadLetteredWithItsReasonAndNothingIsLost() throws Exception {
        // More than 50 kinds of malformed or hostile records, interleaved with good ones.
        byte[] good = Trajectory.newBuilder()
                .setTrajectoryId("good-1")
                .setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                .build()
                .toByteArray();
        byte[] truncated = Arrays.copyOf(good, good.length - 4);
        byte[] oversized = new byte[9 << 20]; // above the reward service's default limit of 8 MiB
        new Random(7).nextBytes(oversized);
        oversized[0] = '{';

        Map<String, Case> cases = new LinkedHashMap<>();
        cases.put(
                "malformed-json",
                new Case("MALFORMED_JSON", "application/json", utf8("{\"trajectory_id\": \"x\", "), true));
        cases.put(
                "wrong-type",
                new Case(
                        "WRONG_TYPE",
                        "application/json",
                        utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":\"hello\"}"),
                        true));
        cases.put(
                "wrong-type-nested",
                new Case(
                        "WRONG_TYPE",
                        "application/json",
                        utf8(
                                "{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":{\"a\":1}}]}"),
                        true));
        cases.put(
                "missing-group",
                new Case(
                        "MISSING_FIELD",
                        "application/json",
                        utf8("{\"trajectory_id\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"),
                        true));
        cases.put(
                "bad-role",
                new Case(
                        "INVALID_VALUE",
                        "application/json",
                        utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":[{\"role\":\"wizard\"}]}"),
                        true));
        cases.put("nesting-bomb", new Case("MALFORMED_JSON", "application/json", utf8("[".repeat(5000)), true));
        cases.put(
                "invalid-utf8",
                new Case(
                        "INVALID_UTF8",
                        "application/json",
                        "{\"trajectory_id\":\"\u00ff\u00fe\"}".getBytes(StandardCharsets.ISO_8859_1),
                        false));
        // A lone surrogate, escaped in ASCII JSON: no UTF-8 form, so refused rather than re-encoded lossily.
        cases.put(
                "lone-surrogate",
                new Case(
                        "INVALID_UTF8",
                        "application/json",
                        utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\","
                                + "\"content\":\"half \\ud83d of a face\"}]}"),
                        true));
        cases.put("truncated-protobuf", new Case("TRUNCATED_PROTOBUF", "application/x-protobuf", truncated, false));
        cases.put(
                "garbage-protobuf",
                new Case(
                        "MALFORMED_PROTOBUF",
                        "application/x-protobuf",
                        new byte[] {(byte) 0xFF, 0x7F, 0x00, 0x01},
                        false));
        cases.put(
                "protobuf-without-ids",
                new Case(
                        "MISSING_FIELD",
                        "application/x-protobuf",
                        Trajectory.newBuilder()
                                .addMessages(ChatMessage.newBuilder().setRole("user"))
                                .build()
                                .toByteArray(),
                        false));
        cases.put("unsupported-type", new Case("UNSUPPORTED_CONTENT_TYPE", "text/csv", utf8("a,b,c"), false));
        cases.put("empty", new Case("EMPTY", "application/json", new byte[0], false));
        cases.put("tombstone", new Case("EMPTY", "application/json", null, false));
        cases.put("oversized", new Case("OVERSIZED", "application/json", oversized, false));
        // protobuf records that parse but break the contract
        cases.put("proto-unknown-role", proto("INVALID_VALUE", base().setMessages(0, msg("wizard", "hi"))));
        cases.put(
                "proto-unknown-call-answered",
                proto(
                        "INVALID_VALUE",
                        base().addMessages(ChatMessage.newBuilder()
                                .setRole("tool")
                                .setToolCallId("nope")
                                .setContent("x"))));
        cases.put(
                "proto-duplicate-call-ids",
                proto(
                        "INVALID_VALUE",
                        base().addMessages(ChatMessage.newBuilder()
                                .setRole("assistant")
                                .addToolCalls(call("c1"))
                                .addToolCalls(call("c1")))));
        cases.put(
                "proto-call-without-name",
                proto(
                        "MISSING_FIELD",
                        base().addMessages(ChatMessage.newBuilder()
                                .setRole("assistant")
                                .addToolCalls(ToolCall.newBuilder().setId("c9")))));
        cases.put(
                "proto-step-unknown-call",
                proto("INVALID_VALUE", base().addSteps(ToolStep.newBuilder().setToolCallId("ghost"))));
        cases.put(
                "proto-segment-outside",
                proto(
                        "INVALID_VALUE",
                        base().addTokenIds(5)
                                .addTokenIds(6)
                                .addSegments(TokenSegment.newBuilder()
                                        .setStart(1)
                                        .setEnd(9)
                                        .setGenerated(true))));
        cases.put(
                "proto-nan-logprob",
                proto(
                        "INVALID_VALUE",
                        base().addTokenIds(5)
                                .addTokenIds(6)
                                .addSegments(TokenSegment.newBuilder()
                                        .setStart(0)
                                        .setEnd(2)
                                        .setGenerated(true)
                                        .addLogprobs(Float.NaN)
                                        .addLogprobs(-1f))));
        cases.put(
                "proto-positive-logprob",
                proto(
                        "INVALID_VALUE",
                        base().addTokenIds(5)
                                .addSegments(TokenSegment.newBuilder()
                                        .setStart(0)
                                        .setEnd(1)
                                        .setGenerated(true)
                                        .addLogprobs(3f))));
        cases.put(
                "proto-logprob-count",
                proto(
                        "INVALID_VALUE",
                        base().addTokenIds(5)
                                .addTokenIds(6)
                                .addSegments(TokenSegment.newBuilder()
                                        .setStart(0)
                                        .setEnd(2)
                                        .setGenerated(true)
                                        .addLogprobs(-1f))));
        cases.put(
                "proto-token-out-of-vocab",
                proto("INVALID_VALUE", base().addTokenIds(5).addTokenIds(4000)));
        cases.put(
                "proto-feedback-range",
                proto("INVALID_VALUE", base().setOutcome(Outcome.newBuilder().setFeedback(5))));
        cases.put(
                "proto-feedback-nan",
                proto("INVALID_VALUE", base().setOutcome(Outcome.newBuilder().setFeedback(Double.NaN))));
        cases.put(
                "proto-cases-inconsistent",
                proto(
                        "INVALID_VALUE",
                        base().setOutcome(Outcome.newBuilder()
                                .addTestResults(TestResult.newBuilder()
                                        .setName("t")
                                        .setPassedCases(5)
                                        .setTotalCases(2)))));
        cases.put(
                "proto-step-message-index",
                proto("INVALID_VALUE", base().addSteps(ToolStep.newBuilder().setMessageIndex(99))));
        // JSON that is well-formed but wrong
        String ok = "\"trajectory_id\":\"x\",\"group_id\":\"g\"";
        cases.put("json-top-level-array", json("WRONG_TYPE", "[1,2,3]"));
        cases.put(
                "json-trailing-garbage", json("MALFORMED_JSON", "{" + ok + ",\"messages\":[{\"role\":\"user\"}]} xyz"));
        cases.put(
                "json-negative-token",
                json("INVALID_VALUE", "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"token_ids\":[1,-3]}"));
        cases.put(
                "json-token-too-large",
                json("INVALID_VALUE", "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"token_ids\":[99999999999]}"));
        cases.put(
                "json-feedback-range",
                json("INVALID_VALUE", "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"outcome\":{\"feedback\":2}}"));
        cases.put(
                "json-unknown-source",
                json("INVALID_VALUE", "{" + ok + ",\"source\":\"martian\",\"messages\":[{\"role\":\"user\"}]}"));
        cases.put(
                "json-exit-code-string",
                json(
                        "WRONG_TYPE",
                        "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"steps\":[{\"exit_code\":\"zero\"}]}"));
        cases.put(
                "json-negative-duration",
                json(
                        "INVALID_VALUE",
                        "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"steps\":[{\"duration_ms\":-5}]}"));
        cases.put(
                "json-call-without-function",
                json(
                        "MISSING_FIELD",
                        "{" + ok + ",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\"}]}]}"));
        cases.put(
                "json-content-part-number",
                json("WRONG_TYPE", "{" + ok + ",\"messages\":[{\"role\":\"user\",\"content\":[7]}]}"));
        cases.put(
                "json-duplicate-key",
                json("MALFORMED_JSON", "{" + ok + ",\"group_id\":\"h\",\"messages\":[{\"role\":\"user\"}]}"));
        cases.put(
                "json-nan-literal",
                json(
                        "MALFORMED_JSON",
                        "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"outcome\":{\"feedback\":NaN}}"));
        cases.put(
                "json-answers-unknown-call",
                json(
                        "INVALID_VALUE",
                        "{" + ok + ",\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"zz\",\"content\":\"x\"}]}"));
        cases.put("json-messages-empty", json("MISSING_FIELD", "{" + ok + ",\"messages\":[]}"));
        cases.put("json-empty-object", json("MISSING_FIELD", "{}"));
        cases.put("json-null-document", json("MISSING_FIELD", "null"));
        cases.put(
                "json-id-number",
                json("WRONG_TYPE", "{\"trajectory_id\":5,\"group_id\":\"g\",\"messages\":[{\"role\":\"user\"}]}"));
        cases.put(
                "json-id-blank",
                json(
                        "MISSING_FIELD",
                        "{\"trajectory_id\":\"  \",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\"}]}"));
        cases.put("json-messages-object", json("WRONG_TYPE", "{" + ok + ",\"messages\":{\"role\":\"user\"}}"));
        cases.put(
                "json-tool-calls-object",
                json("WRONG_TYPE", "{" + ok + ",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}"));
        cases.put(
                "json-token-fraction",
                json("WRONG_TYPE", "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"token_ids\":[1.5]}"));
        cases.put(
                "json-submitted-string",
                json(
                        "WRONG_TYPE",
                        "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"outcome\":{\"submitted\":\"yes\"}}"));
        cases.put(
                "json-unknown-solution-kind",
                json(
                        "INVALID_VALUE",
                        "{" + ok + ",\"messages\":[{\"role\":\"user\"}],\"outcome\":{\"kind\":\"poem\"}}"));
        cases.put(
                "proto-negative-token",
                proto("INVALID_VALUE", base().addTokenIds(5).addTokenIds(-7)));

        String learner = mesh.http("learner");
        double countedBefore = Mesh.metric(learner, FirstFlowIT.COUNTER, null);
        mesh.send(
                "katmesh.trajectories.raw",
                "g",
                Map.of("content-type", "application/x-protobuf", "it-case", "good-1"),
                good);
        for (Map.Entry<String, Case> e : cases.entrySet()) {
            Case c = e.getValue();
            if (c.viaKcat()) {
                Path file = Mesh.scratchFile("bad", ".json");
                Files.write(file, c.value());
                mesh.kcat(
                        "katmesh.trajectories.raw",
                        "g",
                        Map.of("content-type", c.contentType(), "it-case", e.getKey()),
                        file);
            } else {
                mesh.send(
                        "katmesh.trajectories.raw",
                        "g",
                        Map.of("content-type", c.contentType(), "it-case", e.getKey()),
                        c.value());
            }
        }
        byte[] good2 = Trajectory.newBuilder()
                .setTrajectoryId("good-2")
                .setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("after the storm"))
                .build()
                .toByteArray();
        mesh.send(
                "katmesh.trajectories.raw",
                "g",
                Map.of("content-type", "application/x-protobuf", "it-case", "good-2"),
                good2);

        assertTrue(cases.size() >= 30, cases.size() + " kinds");
        List<ConsumerRecord<String, byte[]>> dlq =
                mesh.readAll("katmesh.trajectories.dlq", cases.size(), Duration.ofSeconds(90));
        Map<String, ConsumerRecord<String, byte[]>> byCase = new HashMap<>();
        dlq.forEach(r -> byCase.put(Mesh.header(r, "it-case"), r));
        assertEquals(cases.keySet(), byCase.keySet(), "every bad record, and only those, reaches the DLQ");
        for (Map.Entry<String, Case> e : cases.entrySet()) {
            ConsumerRecord<String, byte[]> r = byCase.get(e.getKey());
            assertEquals(e.getValue().reason(), Mesh.header(r, "katmesh-reject-reason"), e.getKey());
            String why = Mesh.header(r, "dead-letter-reason");
            assertNotNull(why, e.getKey() + " has a dead-letter-reason header");
            assertTrue(
                    why.startsWith(e.getValue().reason() + ": ")
                            && why.length() > e.getValue().reason().length() + 4,
                    e.getKey() + " explains itself: " + why);
            assertEquals("katmesh.trajectories.raw", Mesh.header(r, "dead-letter-topic"), e.getKey());
            assertArrayEquals(e.getValue().value(), r.value(), e.getKey() + " is kept unchanged");
        }

        Mesh.awaitMetric(
                learner,
                FirstFlowIT.COUNTER,
                null,
                countedBefore + 2,
                Duration.ofSeconds(20),
                "good records around the bad ones are counted");
        assertEquals(
                cases.size(),
                (int) Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null),
                "katmesh_reward_rejected_total counts each refusal");

        int raw = mesh.readAll("katmesh.trajectories.raw", Integer.MAX_VALUE, Duration.ofSeconds(30))
                .size();
        int scored = mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(30))
                .size();
        assertEquals(raw, scored + dlq.size(), "every raw record is either scored or dead-lettered: none is lost");

        JsonNode status = mesh.status();
        status.path("services")
                .fields()
                .forEachRemaining(s -> assertEquals(
                        "UP", s.getValue().path("health").asText(), s.getKey() + " stays UP after bad input"));
    }

    private static Trajectory.Builder base() {
        return Trajectory.newBuilder().setTrajectoryId("bad").setGroupId("g").addMessages(msg("user", "hi"));
    }

    private static ChatMessage msg(String role, String content) {
        return ChatMessage.newBuilder().setRole(role).setContent(content).build();
    }

    private static ToolCall call(String id) {
        return ToolCall.newBuilder()
                .setId(id)
                .setName("bash")
                .setArguments("{}")
                .build();
    }

    private static Case proto(String reason, Trajectory.Builder t) {
        return new Case(reason, "application/x-protobuf", t.build().toByteArray(), false);
    }

    private static Case json(String reason, String body) {
        return new Case(reason, "application/json", utf8(body), false);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
