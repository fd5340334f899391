package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ChatMessage;
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
        mesh = Mesh.up("bad-input", Map.of());
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
        byte[] good = Trajectory.newBuilder().setTrajectoryId("good-1").setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi")).build().toByteArray();
        byte[] truncated = Arrays.copyOf(good, good.length - 4);
        byte[] oversized = new byte[9 << 20]; // above the reward service's default limit of 8 MiB
        new Random(7).nextBytes(oversized);
        oversized[0] = '{';

        Map<String, Case> cases = new LinkedHashMap<>();
        cases.put("malformed-json", new Case("MALFORMED_JSON", "application/json", utf8("{\"trajectory_id\": \"x\", "), true));
        cases.put("wrong-type", new Case("WRONG_TYPE", "application/json",
                utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":\"hello\"}"), true));
        cases.put("wrong-type-nested", new Case("WRONG_TYPE", "application/json",
                utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":[{\"role\":\"user\",\"content\":{\"a\":1}}]}"), true));
        cases.put("missing-group", new Case("MISSING_FIELD", "application/json",
                utf8("{\"trajectory_id\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), true));
        cases.put("bad-role", new Case("INVALID_VALUE", "application/json",
                utf8("{\"trajectory_id\":\"x\",\"group_id\":\"g\",\"messages\":[{\"role\":\"wizard\"}]}"), true));
        cases.put("nesting-bomb", new Case("MALFORMED_JSON", "application/json", utf8("[".repeat(5000)), true));
        cases.put("invalid-utf8", new Case("INVALID_UTF8", "application/json",
                "{\"trajectory_id\":\"\u00ff\u00fe\"}".getBytes(StandardCharsets.ISO_8859_1), false));
        cases.put("truncated-protobuf", new Case("TRUNCATED_PROTOBUF", "application/x-protobuf", truncated, false));
        cases.put("garbage-protobuf", new Case("MALFORMED_PROTOBUF", "application/x-protobuf", new byte[] {(byte) 0xFF, 0x7F, 0x00, 0x01}, false));
        cases.put("protobuf-without-ids", new Case("MISSING_FIELD", "application/x-protobuf",
                Trajectory.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user")).build().toByteArray(), false));
        cases.put("unsupported-type", new Case("UNSUPPORTED_CONTENT_TYPE", "text/csv", utf8("a,b,c"), false));
        cases.put("empty", new Case("EMPTY", "application/json", new byte[0], false));
        cases.put("tombstone", new Case("EMPTY", "application/json", null, false));
        cases.put("oversized", new Case("OVERSIZED", "application/json", oversized, false));

        String learner = mesh.http("learner");
        double countedBefore = Mesh.metric(learner, FirstFlowIT.COUNTER, null);
        mesh.send("katmesh.trajectories.raw", "g", Map.of("content-type", "application/x-protobuf", "it-case", "good-1"), good);
        for (Map.Entry<String, Case> e : cases.entrySet()) {
            Case c = e.getValue();
            if (c.viaKcat()) {
                Path file = Files.createTempFile("bad", ".json");
                Files.write(file, c.value());
                mesh.kcat("katmesh.trajectories.raw", "g", Map.of("content-type", c.contentType(), "it-case", e.getKey()), file);
            } else {
                mesh.send("katmesh.trajectories.raw", "g", Map.of("content-type", c.contentType(), "it-case", e.getKey()), c.value());
            }
        }
        byte[] good2 = Trajectory.newBuilder().setTrajectoryId("good-2").setGroupId("g")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("after the storm")).build().toByteArray();
        mesh.send("katmesh.trajectories.raw", "g", Map.of("content-type", "application/x-protobuf", "it-case", "good-2"), good2);

        List<ConsumerRecord<String, byte[]>> dlq = mesh.readAll("katmesh.trajectories.dlq", cases.size(), Duration.ofSeconds(60));
        Map<String, ConsumerRecord<String, byte[]>> byCase = new HashMap<>();
        dlq.forEach(r -> byCase.put(Mesh.header(r, "it-case"), r));
        assertEquals(cases.keySet(), byCase.keySet(), "every bad record, and only those, reaches the DLQ");
        for (Map.Entry<String, Case> e : cases.entrySet()) {
            ConsumerRecord<String, byte[]> r = byCase.get(e.getKey());
            assertEquals(e.getValue().reason(), Mesh.header(r, "katmesh-reject-reason"), e.getKey());
            String why = Mesh.header(r, "dead-letter-reason");
            assertNotNull(why, e.getKey() + " has a dead-letter-reason header");
            assertTrue(why.startsWith(e.getValue().reason() + ": ") && why.length() > e.getValue().reason().length() + 4,
                    e.getKey() + " explains itself: " + why);
            assertEquals("katmesh.trajectories.raw", Mesh.header(r, "dead-letter-topic"), e.getKey());
            assertArrayEquals(e.getValue().value(), r.value(), e.getKey() + " is kept unchanged");
        }

        Mesh.awaitMetric(learner, FirstFlowIT.COUNTER, null, countedBefore + 2, Duration.ofSeconds(20), "good records around the bad ones are counted");
        assertEquals(cases.size(), (int) Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null),
                "katmesh_reward_rejected_total counts each refusal");

        int raw = mesh.readAll("katmesh.trajectories.raw", Integer.MAX_VALUE, Duration.ofSeconds(30)).size();
        int scored = mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(30)).size();
        assertEquals(raw, scored + dlq.size(), "every raw record is either scored or dead-lettered: none is lost");

        JsonNode status = mesh.status();
        status.path("services").fields().forEachRemaining(s ->
                assertEquals("UP", s.getValue().path("health").asText(), s.getKey() + " stays UP after bad input"));
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
