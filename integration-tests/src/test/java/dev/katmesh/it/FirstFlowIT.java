package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The first flow of the mesh, end to end: an agent publishes, reward scores, the learner counts. */
class FirstFlowIT {

    static final String COUNTER = "katmesh_learner_trajectories_received_total";
    static Mesh mesh;

    @BeforeAll
    static void up() throws Exception {
        mesh = Mesh.up("first-flow", Map.of());
    }

    @AfterAll
    static void down() throws Exception {
        if (mesh != null) {
            JsonNode before = mesh.status();
            mesh.close();
            JsonNode after = mesh.status();
            assertEquals("DOWN", after.path("kafka").path("health").asText());
            for (String s : List.of("inference", "rollout", "reward", "learner")) {
                long pid = before.path("services").path(s).path("pid").asLong();
                assertFalse(
                        ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
                        s + " (pid " + pid + ") still runs after down");
                assertEquals(
                        "DOWN", after.path("services").path(s).path("health").asText(), s);
            }
        }
    }

    @Test
    void statusShowsTheBrokerAndEveryServiceUp() throws Exception {
        JsonNode status = mesh.status();
        assertTrue(status.path("kafka").path("bootstrap").asText().matches("127\\.0\\.0\\.1:\\d+"), status.toString());
        for (String s : List.of("inference", "rollout", "reward", "learner")) {
            JsonNode svc = status.path("services").path(s);
            assertEquals("UP", svc.path("health").asText(), s + " in " + status);
            assertTrue(svc.path("http").asText().matches("http://127\\.0\\.0\\.1:\\d+"), s + " http in " + status);
            assertTrue(svc.path("pid").asLong() > 0, s + " pid in " + status);
        }
        for (String s : List.of("inference", "learner")) {
            assertTrue(
                    status.path("services").path(s).path("grpc").asText().matches("127\\.0\\.0\\.1:\\d+"),
                    s + " grpc in " + status);
        }
    }

    @Test
    void aJsonTrajectoryPublishedWithKcatIsCountedByTheLearnerWithin10Seconds() throws Exception {
        String learner = mesh.http("learner");
        double before = Mesh.metric(learner, COUNTER, null);
        Path file = Mesh.scratchFile("trajectory", ".json");
        Files.writeString(file, """
                {"trajectory_id":"kcat-1","group_id":"group-kcat","session_id":"sess-1",
                 "agent_id":"agent-a","source":"deployed","model":"katmesh",
                 "messages":[
                   {"role":"user","content":"How many files are here?"},
                   {"role":"assistant","content":null,"tool_calls":[
                     {"id":"call_1","type":"function","function":{"name":"bash","arguments":"{\\"cmd\\":\\"ls | wc -l\\"}"}}]},
                   {"role":"tool","tool_call_id":"call_1","content":"3\\n"},
                   {"role":"assistant","content":"There are 3 files."}],
                 "tools":[{"type":"function","function":{"name":"bash","description":"Run a shell command",
                   "parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}}}],
                 "steps":[{"message_index":2,"tool_call_id":"call_1","tool_name":"bash","exit_code":0,"duration_ms":12}],
                 "outcome":{"submitted":true,"kind":"answer","content":"3"}}
                """);
        mesh.kcat("katmesh.trajectories.raw", "group-kcat", Map.of("content-type", "application/json"), file);
        Duration took = Mesh.awaitMetric(
                learner, COUNTER, null, before + 1, Duration.ofSeconds(10), "the learner's " + COUNTER);
        System.out.println("kcat -> learner counted in " + took.toMillis() + " ms");
        assertEquals(
                before + 1,
                Mesh.metric(learner, COUNTER, "source=\"deployed\"")
                        + Mesh.metric(learner, COUNTER, "source=\"rollout\""));

        ScoredTrajectory scored = scoredById("kcat-1");
        assertEquals("multi-ground-truth/v1", scored.getScorer());
        assertTrue(scored.getTaskless(), "a deployed session without a task gets the components that apply");
        assertTrue(
                scored.getComponentsList().stream().anyMatch(c -> c.getName().equals("format_penalty")),
                scored.getComponentsList().toString());
        assertEquals(scored.getTrajectory().getMessagesCount() > 0, true);
        assertEquals("group-kcat", scored.getTrajectory().getGroupId());
        assertEquals(
                "call_1", scored.getTrajectory().getMessages(1).getToolCalls(0).getId());
        assertEquals(0, scored.getTrajectory().getSteps(0).getExitCode());
    }

    @Test
    void aProtobufTrajectoryIsScoredAndCounted() throws Exception {
        String learner = mesh.http("learner");
        double before = Mesh.metric(learner, COUNTER, "source=\"rollout\"");
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId("proto-1")
                .setGroupId("group-proto")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Write hello world"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("print('hello world')"))
                .addTokenIds(9707)
                .addTokenIds(1879)
                .build();
        mesh.send(
                "katmesh.trajectories.rollout",
                "group-proto",
                Map.of("content-type", "application/x-protobuf"),
                t.toByteArray());
        Mesh.awaitMetric(
                learner,
                COUNTER,
                "source=\"rollout\"",
                before + 1,
                Duration.ofSeconds(10),
                "rollout trajectories counted by the learner");
        assertEquals(t, scoredById("proto-1").getTrajectory(), "the scored record carries the trajectory unchanged");

        // The same claim on the deployed agents' topic: the topic decides, the record's field does not.
        double deployed = Mesh.metric(learner, COUNTER, "source=\"deployed\"");
        Trajectory claims = t.toBuilder().setTrajectoryId("proto-2").build();
        mesh.send(
                "katmesh.trajectories.raw",
                "group-proto",
                Map.of("content-type", "application/x-protobuf"),
                claims.toByteArray());
        Mesh.awaitMetric(
                learner, COUNTER, "source=\"deployed\"", deployed + 1, Duration.ofSeconds(10), "counted as deployed");
        assertEquals(
                TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED,
                scoredById("proto-2").getTrajectory().getSource(),
                "a record on katmesh.trajectories.raw is deployed, whatever its source field claims");
        assertEquals(before + 1, Mesh.metric(learner, COUNTER, "source=\"rollout\""), "and not a rollout");
    }

    static ScoredTrajectory scoredById(String id) throws Exception {
        for (ConsumerRecord<String, byte[]> r :
                mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(5))) {
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
            if (s.getTrajectory().getTrajectoryId().equals(id)) {
                assertEquals(s.getTrajectory().getGroupId(), r.key(), "scored records are keyed by group id");
                assertEquals("application/x-protobuf", Mesh.header(r, "content-type"));
                return s;
            }
        }
        throw new AssertionError("no scored record for " + id);
    }
}
