package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.SessionEnd;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.proto.wire.Topics;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.reactive.messaging.memory.InMemoryConnector;
import io.smallrye.reactive.messaging.memory.InMemorySink;
import jakarta.enterprise.inject.Any;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.junit.jupiter.api.Test;

/** The reward's beans as one Quarkus application, its channels in memory: a record in, a verdict out. */
@QuarkusTest
@QuarkusTestResource(InMemoryChannels.class)
class RewardServiceTest {

    @Inject
    @Any
    InMemoryConnector connector;

    @Inject
    RecordedOutcomes outcomes;

    @TestHTTPResource("/")
    URI root;

    static final String TASKLESS = """
            {"trajectory_id":"svc-1","group_id":"g","messages":[{"role":"user","content":"hi"},
             {"role":"assistant","content":"hello"}],
             "outcome":{"submitted":true,"feedback":1.0,"test_results":[{"name":"t","passed":true}]}}""";

    @Test
    void aTasklessTrajectoryIsScoredOnItsEvidenceOnlyAndItsOwnClaimsWeighNothing() throws Exception {
        outcomes.clear();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        connector
                .source("trajectories-raw")
                .send(Message.of(List.of(TASKLESS.getBytes(StandardCharsets.UTF_8)))
                        .withAck(() -> {
                            acked.complete(null);
                            return CompletableFuture.completedFuture(null);
                        }));
        acked.get(30, TimeUnit.SECONDS);
        assertEquals(1, outcomes.on(Topics.SCORED).size(), "one scored record");
        ScoredTrajectory s =
                ScoredTrajectory.parseFrom(outcomes.on(Topics.SCORED).get(0).value());
        assertEquals("svc-1", s.getTrajectory().getTrajectoryId());
        assertTrue(s.getTaskless(), "no task: flagged taskless");
        assertEquals(
                0.0,
                s.getReward(),
                1e-9,
                "its own test results and feedback are unverified, weight 0: " + s.getComponentsList());
    }

    @Test
    void aSecretAnAgentSawIsRedactedBeforeTheScoredTopicAndTheTurnThatWroteItIsNamed() throws Exception {
        String key = "sk-proj-" + "Zq3".repeat(20);
        String raw = """
                {"trajectory_id":"svc-secret","group_id":"g","messages":[{"role":"user","content":"read .env"},
                 {"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function",
                   "function":{"name":"bash","arguments":"{\\"command\\":\\"cat .env\\"}"}}]},
                 {"role":"tool","tool_call_id":"c1","content":"OPENAI_API_KEY=%s"},
                 {"role":"assistant","content":"Your key is %s"}]}""".formatted(key, key);
        outcomes.clear();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        connector
                .source("trajectories-raw")
                .send(Message.of(List.of(raw.getBytes(StandardCharsets.UTF_8))).withAck(() -> {
                    acked.complete(null);
                    return CompletableFuture.completedFuture(null);
                }));
        acked.get(30, TimeUnit.SECONDS);
        assertEquals(
                1,
                outcomes.on(Topics.SCORED).size(),
                "scored, not rejected: deployed sessions are redacted by default");
        byte[] bytes = outcomes.on(Topics.SCORED).get(0).value();
        assertFalse(new String(bytes, StandardCharsets.ISO_8859_1).contains(key), "the key is not on the scored topic");
        ScoredTrajectory s = ScoredTrajectory.parseFrom(bytes);
        assertEquals(
                "OPENAI_API_KEY=[REDACTED:openai-api-key]",
                s.getTrajectory().getMessages(2).getContent());
        assertEquals(
                List.of("messages[2].content#2", "messages[3].content#3"),
                s.getRedactionsList().stream()
                        .map(r -> r.getField() + "#" + r.getMessageIndex())
                        .toList());
        assertTrue(
                get("q/metrics")
                        .contains(
                                "katmesh_reward_secrets_total{action=\"redact\",rule=\"openai-api-key\",source=\"deployed\"} 2.0"),
                "counted by rule");
    }

    @Test
    void aBadRecordIsRefusedWithItsReasonAndEveryReasonIsAMetricFromTheStart() throws Exception {
        String before = get("q/metrics");
        for (RejectReason r : RejectReason.values()) {
            assertTrue(
                    before.contains("katmesh_reward_rejected_total{reason=\"" + r.name() + "\"}"),
                    r + " registered at start");
        }
        outcomes.clear();
        CompletableFuture<Void> acked = new CompletableFuture<>();
        byte[] bad = "{\"trajectory_id\":".getBytes(StandardCharsets.UTF_8);
        connector.source("trajectories-raw").send(Message.of(List.of(bad)).withAck(() -> {
            acked.complete(null);
            return CompletableFuture.completedFuture(null);
        }));
        acked.get(30, TimeUnit.SECONDS);
        assertEquals(List.of(), outcomes.on(Topics.SCORED), "nothing scored");
        List<ProducerRecord<String, byte[]>> dead = outcomes.on(Topics.DLQ);
        assertEquals(1, dead.size(), "dead-lettered before the record was acknowledged");
        assertArrayEquals(bad, dead.get(0).value(), "the record as it was sent");
        assertEquals("MALFORMED_JSON", RecordHeaders.text(dead.get(0).headers(), RecordHeaders.REJECT_REASON));
        String why = RecordHeaders.text(dead.get(0).headers(), "dead-letter-reason");
        assertTrue(why != null && why.startsWith("MALFORMED_JSON: "), "the detail is on the record: " + why);
        assertTrue(
                get("q/metrics").contains("katmesh_reward_rejected_total{reason=\"MALFORMED_JSON\"} 1.0"), "counted");
    }

    String get(String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(HttpRequest.newBuilder(root.resolve(path)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path);
        return r.body();
    }

    @Test
    void aCapturedSessionIsPublishedToRawWhenItEndsAndItsRecordsAcknowledgedOnlyThen() throws Exception {
        InMemorySink<byte[]> assembled = connector.sink("sessions-assembled");
        assembled.clear();
        List<CompletableFuture<Void>> acks = new ArrayList<>();
        CaptureEvent.Builder tree = CaptureEvent.newBuilder()
                .setTreeId("svc-tree")
                .setAgentId("agent")
                .setSessionId("svc-session")
                .setAtMs(System.currentTimeMillis());
        CapturedRequest.Builder request = CapturedRequest.newBuilder()
                .setRequestId("chatcmpl-1")
                .addContextTokenIds(5)
                .addGeneratedTokenIds(6)
                .addLogprobs(-1f)
                .addPolicyVersions(1)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                .setAssistant(ChatMessage.newBuilder().setRole("assistant").setContent("hello"));
        for (CaptureEvent e : List.of(
                tree.clone().setRequest(request).build(),
                tree.clone()
                        .setEnd(SessionEnd.newBuilder().setReason("ended").setRequests(1))
                        .build())) {
            CompletableFuture<Void> acked = new CompletableFuture<>();
            acks.add(acked);
            connector
                    .source("capture-requests")
                    .send(Message.of(e.toByteArray()).withAck(() -> {
                        acked.complete(null);
                        return CompletableFuture.completedFuture(null);
                    }));
            if (acks.size() == 1) {
                Thread.sleep(200);
                assertFalse(acked.isDone(), "a request of an open tree is not acknowledged: it must stay uncommitted");
                assertTrue(assembled.received().isEmpty(), "nothing is published before the session ends");
            }
        }
        CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        assertEquals(1, assembled.received().size());
        Trajectory t = Trajectory.parseFrom(assembled.received().get(0).getPayload());
        assertEquals("svc-tree", t.getTrajectoryId());
        assertEquals(List.of(5, 6), t.getTokenIdsList());
        assertEquals(List.of("chatcmpl-1"), t.getCapturedRequestIdsList());
    }
}
