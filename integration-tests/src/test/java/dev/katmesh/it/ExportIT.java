package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.json.AtifJson;
import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code ./katmesh export} through the real broker: ranges of the scored log selected by source, reward and time come
 * out as OpenAI-chat JSONL and as ATIF-v1.7, every record equal to what was published; and a curriculum stage trains
 * on the exported files.
 */
class ExportIT {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aRangeOfTheScoredLogExportsInBothFormatsAndTrainsAStage() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/export-it");
        Mesh.deleteRecursively(dir);
        Files.createDirectories(dir);
        Path openai = dir.resolve("rollouts.jsonl");
        Path atif = dir.resolve("deployed.atif.jsonl");
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: rft
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    steps: 1
                  - name: imported
                    objective: error_masked_sft
                    sources: [{file: rollouts.jsonl}, {file: deployed.atif.jsonl}]
                    steps: 1
                    batch: 4
                """);
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"),
                "-Dkatmesh.learner.group-size=4",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.max-staleness=10");
        try (Mesh mesh = Mesh.up("export", Map.of("KATMESH_LEARNER_OPTS", opts))) {
            // Rollouts whose group has no reward variance (the RL stage drops them, so it waits), and two deployed
            // sessions scored 0.2 and 0.9.
            LearnerIT.publishGroup(mesh, "flat", 0, new double[] {1, 1, 1, 1});
            Map<String, ScoredTrajectory> sent = new HashMap<>();
            for (int i = 0; i < 4; i++) {
                sent.put("flat-" + i, rollout("flat", i, 1));
            }
            for (int i = 0; i < 2; i++) {
                ScoredTrajectory d = deployed("dep-" + i, i == 0 ? 0.2 : 0.9).toBuilder()
                        .setTaskFamily(i == 0 ? "offset-sum" : "grep-count")
                        .build();
                sent.put(d.getTrajectory().getTrajectoryId(), d);
                mesh.send(
                        "katmesh.trajectories.scored",
                        d.getTrajectory().getGroupId(),
                        Map.of("content-type", "application/x-protobuf"),
                        d.toByteArray());
            }
            long afterAll = System.currentTimeMillis() + 1;

            JsonNode rollouts = export(mesh, "--out", openai.toString(), "--source", "rollout", "--min-reward", "0.5");
            assertEquals(6, rollouts.path("records_in_range").asInt(), rollouts.toString());
            assertEquals(4, rollouts.path("exported").asInt(), "the four rollouts, not the deployed: " + rollouts);
            assertEquals(
                    "rw-------",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(openai)),
                    "owner-only, as the topic");
            List<String> lines = Files.readAllLines(openai, StandardCharsets.UTF_8);
            assertEquals(4, lines.size());
            for (String line : lines) {
                ScoredTrajectory back = ScoredJson.read(line.getBytes(StandardCharsets.UTF_8));
                assertEquals(sent.get(back.getTrajectory().getTrajectoryId()), back, "field by field: " + line);
                JsonNode o = JSON.readTree(line);
                assertEquals("user", o.path("messages").get(0).path("role").asText(), "OpenAI chat messages");
                assertEquals(
                        -6.2, o.path("segments").get(1).path("logprobs").get(0).asDouble(), 1e-6);
            }

            JsonNode dep = export(
                    mesh, "--out", atif.toString(), "--format", "atif", "--source", "deployed", "--max-reward", "1");
            assertEquals(2, dep.path("exported").asInt(), dep.toString());
            for (String line : Files.readAllLines(atif, StandardCharsets.UTF_8)) {
                JsonNode o = JSON.readTree(line);
                assertEquals("ATIF-v1.7", o.path("schema_version").asText());
                ScoredTrajectory back = AtifJson.read(o);
                assertEquals(sent.get(back.getTrajectory().getTrajectoryId()), back, "field by field: " + line);
            }

            JsonNode high = export(
                    mesh, "--out", dir.resolve("high.jsonl").toString(), "--min-reward", "0.5", "--max-reward", "0.95");
            assertEquals(1, high.path("exported").asInt(), "only the session scored 0.9 lies in [0.5, 0.95]: " + high);
            JsonNode later =
                    export(mesh, "--out", dir.resolve("later.jsonl").toString(), "--from", Long.toString(afterAll));
            assertEquals(0, later.path("exported").asInt(), "nothing after the last record: " + later);
            assertEquals(0, Files.size(dir.resolve("later.jsonl")));

            // A group with reward variance ends the RL stage; the next stage reads the two exports and trains.
            LearnerIT.publishGroup(mesh, "varied", 0, new double[] {1, 0, 0, 1});
            Map<Long, PolicyVersion> v = LearnerIT.awaitVersions(mesh, 3);
            assertEquals(
                    List.of("base", "rft", "imported"),
                    v.values().stream().map(PolicyVersion::getStage).toList(),
                    "the exported files train a stage");
            assertTrue(Mesh.metric(mesh.http("learner"), "katmesh_learner_mix_records_total", null) >= 4);
        }
    }

    static JsonNode export(Mesh mesh, String... args) throws Exception {
        String[] all = new String[args.length + 2];
        all[0] = "export";
        all[1] = "--json";
        System.arraycopy(args, 0, all, 2, args.length);
        String out = mesh.katmesh(Duration.ofMinutes(2), all);
        return JSON.readTree(out.substring(out.lastIndexOf("\n{") + 1).trim());
    }

    /** The record {@link LearnerIT#publishGroup} sent, rebuilt to compare with. */
    static ScoredTrajectory rollout(String group, int i, double reward) throws Exception {
        return LearnerIT.scoredRollout(group, i, 0, reward);
    }

    static ScoredTrajectory deployed(String id, double reward) throws Exception {
        ScoredTrajectory base = LearnerIT.scoredRollout("sess-" + id, 0, 0, reward);
        Trajectory t = base.getTrajectory().toBuilder()
                .setTrajectoryId(id)
                .setAgentId("agent-7")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                .build();
        return base.toBuilder()
                .setTrajectory(t)
                .addAllErrorMask(List.of(false, false, false, false, false, true, false, false, false, false, false))
                .setScorer("export-it")
                .build();
    }
}
