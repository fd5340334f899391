package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.ScoredTrajectory;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * A replay stage through the real broker: a range of the scored log (deployed sessions scored at least 0.5) trains
 * an error-masked SFT stage, each selected record once — also when the learner is killed in the middle of it and
 * resumes from its checkpoint — and the ledger names the replay and the offsets each version covered.
 */
class ReplayIT {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aReplayTrainsItsRangeExactlyOnceThroughAKill() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/replay-it");
        Mesh.deleteRecursively(dir);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: rft
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    steps: 1
                  - name: replay-deployed
                    objective: error_masked_sft
                    sources:
                      - replay: {source: deployed, min_reward: 0.5}
                    batch: 1
                    version_every: 1
                """);
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.group-size=4",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.max-staleness=10");
        String withCurriculum = opts + " -Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml");
        try (Mesh mesh = Mesh.up("replay", Map.of("KATMESH_LEARNER_OPTS", withCurriculum))) {
            // 600 deployed sessions, 400 of them scored at least 0.5: the replay's selection, a version each.
            List<String> selected = new ArrayList<>();
            try (KafkaProducer<String, byte[]> producer = mesh.producer()) {
                for (int i = 0; i < 600; i++) {
                    double reward = i % 3 == 0 ? 0.2 : 0.8;
                    ScoredTrajectory d = ExportIT.deployed("dep-" + i, reward);
                    ProducerRecord<String, byte[]> r = new ProducerRecord<>(
                            "katmesh.trajectories.scored", d.getTrajectory().getGroupId(), d.toByteArray());
                    r.headers().add("content-type", "application/x-protobuf".getBytes(StandardCharsets.UTF_8));
                    producer.send(r);
                    if (reward >= 0.5) {
                        selected.add("dep-" + i);
                    }
                }
                producer.flush();
            }
            LearnerIT.publishGroup(mesh, "varied", 0, new double[] {1, 0, 0, 1}); // ends the RL stage
            long atKill = killPoint(mesh, "replay-deployed", 20); // in the middle of the replay
            mesh.sigkill("learner");
            mesh.katmesh(Duration.ofMinutes(3), "restart", "learner");
            JsonNode ended = CurriculumIT.awaitStageEnded(mesh, "replay-deployed");
            assertEquals("range", ended.path("ended_by").asText(), "the replay ends with its range: " + ended);

            Map<String, Integer> trained = new HashMap<>();
            TreeSet<Long> versions = new TreeSet<>();
            long coveredTo = 0;
            for (JsonNode e : ledger(mesh)) {
                if (!"replay-deployed".equals(e.path("replay").asText(null))) {
                    continue;
                }
                versions.add(e.path("version").asLong());
                e.path("trained").forEach(id -> trained.merge(id.asText(), 1, Integer::sum));
                for (JsonNode range : e.path("replayed")) {
                    assertTrue(range.get(0).asLong() <= range.get(1).asLong(), "offsets [from, to): " + e);
                    coveredTo = Math.max(coveredTo, range.get(1).asLong());
                }
            }
            assertEquals(
                    new TreeSet<>(selected), new TreeSet<>(trained.keySet()), "every selected session: " + trained);
            trained.forEach((id, n) -> assertEquals(1, n, id + " trained once in the replay, across the kill"));
            assertTrue(coveredTo > 0, "the ledger names the offsets the replay covered");
            JsonNode audit = mesh.audit();
            assertEquals(0, audit.path("trained_twice").size(), audit.toString());
            assertEquals(0, audit.path("lost").size(), audit.toString());
            Map<Long, PolicyVersion> v = LearnerIT.awaitVersions(mesh, 2 + versions.size());
            assertEquals("replay-deployed", v.get(versions.last()).getStage());

            // `./katmesh replay` on the running learner: the sessions scored below 0.5, four a step, from the weights
            // of its last version.
            // The learner's curriculum is the replay's now (the environment's would win over it: refused).
            Mesh without = Mesh.at(mesh.dataDir, Map.of("KATMESH_LEARNER_OPTS", opts));
            String out = without.katmesh(
                    Duration.ofMinutes(5),
                    "replay",
                    "--stage",
                    "replay-low",
                    "--source",
                    "deployed",
                    "--max-reward",
                    "0.49",
                    "--batch",
                    "4");
            assertTrue(out.contains("\"stage\":\"replay-low\""), out);
            JsonNode low = CurriculumIT.awaitStageEnded(mesh, "replay-low");
            assertEquals("range", low.path("ended_by").asText(), low.toString());
            assertEquals(50, low.path("steps").asLong(), "200 sessions, four a step: " + low);
            Map<String, Integer> lowTrained = new HashMap<>();
            long firstLowVersion = Long.MAX_VALUE;
            for (JsonNode e : ledger(mesh)) {
                if ("replay-low".equals(e.path("replay").asText(null))) {
                    e.path("trained").forEach(id -> lowTrained.merge(id.asText(), 1, Integer::sum));
                    firstLowVersion =
                            Math.min(firstLowVersion, e.path("version").asLong());
                }
            }
            assertEquals(200, lowTrained.size(), lowTrained.size() + " trained");
            lowTrained.forEach((id, n) -> assertEquals(1, n, id));
            assertEquals(versions.last() + 1, firstLowVersion, "it goes on from the learner's last version");
            assertEquals(0, mesh.audit().path("trained_twice").size());
        }
    }

    /** Waits until {@code stage} has taken {@code steps} steps; returns the learner's version then. */
    static long killPoint(Mesh mesh, String stage, int steps) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        JsonNode p = null;
        while (System.nanoTime() < deadline) {
            p = Mesh.getJson(mesh.http("learner") + "/katmesh/progress");
            if (p.path("stage").asText().equals(stage) && p.path("stage_step").asLong() >= steps) {
                return p.path("policy_version").asLong();
            }
            Thread.sleep(50);
        }
        throw new AssertionError(stage + " did not reach step " + steps + ": " + p);
    }

    static List<JsonNode> ledger(Mesh mesh) throws Exception {
        HttpResponse<String> r = Mesh.HTTP.send(
                HttpRequest.newBuilder(URI.create(mesh.http("learner") + "/katmesh/ledger"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        List<JsonNode> out = new ArrayList<>();
        for (String line : r.body().split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }
}
