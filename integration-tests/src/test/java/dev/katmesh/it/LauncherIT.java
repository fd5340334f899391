package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Trajectory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The launcher's promises: side-by-side meshes, restart of a killed process, data that survives. */
class LauncherIT {

    private static final Pattern PORT = Pattern.compile(":(\\d+)");

    @Test
    void twoMeshesRunSideBySideAndAKilledServiceIsRestarted() throws Exception {
        try (Mesh a = Mesh.up("side-a", Map.of());
                Mesh b = Mesh.up("side-b", Map.of())) {
            Set<Integer> portsA = ports(a.status());
            Set<Integer> portsB = ports(b.status());
            assertEquals(7, portsA.size(), "kafka, four HTTP and two gRPC ports: " + portsA);
            Set<Integer> shared = new HashSet<>(portsA);
            shared.retainAll(portsB);
            assertTrue(shared.isEmpty(), "two meshes share no port: " + shared);
            assertAllUp(b.status());

            long pid = a.sigkill("reward");
            assertEquals(
                    "DOWN",
                    a.status().path("services").path("reward").path("health").asText());

            a.katmesh(Duration.ofMinutes(3), "restart", "reward");
            JsonNode after = a.status();
            assertAllUp(after);
            assertNotEquals(
                    pid, after.path("services").path("reward").path("pid").asLong(), "a new process");
            assertEquals(portsA, ports(after), "a restarted service keeps its ports");
            // The supervisor restarts a dead service after a few seconds: on a loaded machine it may get to the killed
            // reward before the `restart` command does. Either way the deliberate restart adds nothing to the count.
            int handled = crashesHandled(after, "reward");
            assertTrue(handled <= 1, "one kill, at most one crash handled: " + handled);
            assertEquals(
                    handled,
                    after.path("services").path("reward").path("restarts").asInt(),
                    "a deliberate restart is not counted, only the crashes the supervisor handled");
            publishAndAwaitCount(a, "after-restart", 1);

            // A service that dies with nobody there: the mesh's supervisor starts it again and counts it.
            assertEquals("UP", after.path("supervisor").path("health").asText(), "the supervisor runs: " + after);
            long crashed = a.sigkill("reward");
            Mesh.awaitAtLeast(
                    () -> {
                        try {
                            JsonNode s = a.status().path("services").path("reward");
                            return "UP".equals(s.path("health").asText())
                                            && s.path("pid").asLong() != crashed
                                    ? s.path("restarts").asDouble()
                                    : 0;
                        } catch (Exception e) {
                            return 0;
                        }
                    },
                    handled + 1,
                    Duration.ofMinutes(3),
                    "the supervisor restarts the killed reward service");
            assertEquals(
                    "UP",
                    b.status().path("supervisor").path("health").asText(),
                    "the other mesh's supervisor is its own");
            assertEquals(
                    0,
                    b.status().path("services").path("reward").path("restarts").asInt(),
                    "and restarted nothing");
            assertTrue(
                    a.katmesh(Duration.ofSeconds(30), "status").contains("restarts=" + (handled + 1) + " (last crash "),
                    "status shows the restart");
            publishAndAwaitCount(a, "after-crash", 2);
        }
        assertTrue(
                ProcessHandle.allProcesses()
                        .noneMatch(h -> h.info().commandLine().orElse("").contains("supervise --data-dir")
                                && h.info().commandLine().orElse("").contains("side-")),
                "down stops the supervisors");
    }

    @Test
    void theDataDirectorySurvivesDownAndUpAndOffsetsAreKept() throws Exception {
        Mesh mesh = Mesh.up("durable", Map.of());
        Set<Integer> ports;
        try {
            ports = ports(mesh.status());
            publishAndAwaitCount(mesh, "before-down", 1);
        } finally {
            mesh.close();
        }
        mesh.katmesh(Duration.ofMinutes(5), "up", "--detach");
        try {
            assertEquals(ports, ports(mesh.status()), "up again keeps the ports it chose first");
            assertEquals(
                    1,
                    mesh.readAll("katmesh.trajectories.raw", 1, Duration.ofSeconds(20))
                            .size(),
                    "the broker's data survived the restart");
            // The learner committed the first record's offset, so it is not delivered again: the counter of
            // the new learner process counts only the new record.
            publishAndAwaitCount(mesh, "after-up", 1);
            Thread.sleep(2000);
            assertEquals(
                    1.0, Mesh.metric(mesh.http("learner"), FirstFlowIT.COUNTER, null), "no record was delivered twice");

            mesh.katmesh(Duration.ofMinutes(3), "restart", "kafka");
            publishAndAwaitCount(mesh, "after-kafka-restart", 2);
        } finally {
            mesh.close();
        }
    }

    private static void publishAndAwaitCount(Mesh mesh, String id, double expected) throws Exception {
        Trajectory t = Trajectory.newBuilder()
                .setTrajectoryId(id)
                .setGroupId("g-" + id)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent(id))
                .build();
        mesh.send(
                "katmesh.trajectories.raw",
                t.getGroupId(),
                Map.of("content-type", "application/x-protobuf"),
                t.toByteArray());
        String learner = mesh.http("learner");
        Mesh.awaitMetric(
                learner,
                FirstFlowIT.COUNTER,
                null,
                expected,
                Duration.ofSeconds(30),
                "learner count after publishing " + id);
    }

    private static void assertAllUp(JsonNode status) {
        assertEquals("UP", status.path("kafka").path("health").asText(), status.toString());
        for (String s : List.of("inference", "rollout", "reward", "learner")) {
            assertEquals("UP", status.path("services").path(s).path("health").asText(), s + " in " + status);
        }
    }

    private static Set<Integer> ports(JsonNode status) {
        Set<Integer> ports = new HashSet<>();
        Matcher m = PORT.matcher(status.path("kafka").path("bootstrap").asText());
        if (m.find()) {
            ports.add(Integer.parseInt(m.group(1)));
        }
        status.path("services").forEach(s -> {
            for (String k : List.of("http", "grpc")) {
                Matcher pm = PORT.matcher(s.path(k).asText(""));
                if (pm.find()) {
                    ports.add(Integer.parseInt(pm.group(1)));
                }
            }
        });
        return ports;
    }

    /** How many times the mesh's supervisor restarted {@code service} after it died, from its log. */
    static int crashesHandled(JsonNode status, String service) throws IOException {
        Path log = Path.of(status.path("supervisor").path("log").asText());
        try (var lines = Files.lines(log)) {
            return (int) lines.filter(l -> l.contains(service + " (pid ") && l.contains(" died; restarting it"))
                    .count();
        }
    }
}
