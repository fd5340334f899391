package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.PolicyVersion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The curriculum through the mesh: mid-term LM and SFT from files (with tag balancing), RFT on rollout
 * trajectories from the scored topic, then deployment adaptation on deployed agents' sessions that
 * went through the reward service as JSON — each stage announcing its versions in order.
 */
class CurriculumIT {

    @Test
    void runsTheStagesInOrder() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/curriculum");
        Files.createDirectories(dir);
        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            corpus.append("{\"text\":\"def f")
                    .append(i)
                    .append("(x):\\n    return x * ")
                    .append(i)
                    .append("\\n\"}\n");
        }
        Files.writeString(dir.resolve("corpus.jsonl"), corpus);
        StringBuilder sft = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            String lang = i % 3 == 0 ? "bash" : "python";
            sft.append("{\"trajectory_id\":\"sft-")
                    .append(i)
                    .append("\",\"group_id\":\"sft\",\"metadata\":{\"language\":\"")
                    .append(lang)
                    .append("\"},\"messages\":[{\"role\":\"user\",\"content\":\"Task ")
                    .append(i)
                    .append("\"},{\"role\":\"assistant\",\"content\":\"Answer ")
                    .append(i)
                    .append(" in ")
                    .append(lang)
                    .append("\"}]}\n");
        }
        Files.writeString(dir.resolve("sft.jsonl"), sft);
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: midterm
                    objective: lm
                    sources: [{file: corpus.jsonl}]
                    steps: 4
                    batch: 4
                  - name: sft
                    objective: sft
                    sources: [{file: sft.jsonl}]
                    balance_by: [language]
                    steps: 4
                    batch: 2
                  - name: rft
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    steps: 2
                    off_policy: {correction: token_tis, cap: 2}
                  - name: rft-budget
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    steps: 5
                    max_trajectories: 8
                  - name: adapt
                    objective: error_masked_sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    steps: 1
                  - name: sft-again
                    objective: sft
                    from_stage: midterm
                    sources: [{file: sft.jsonl}]
                    steps: 2
                    batch: 2
                """);
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"),
                "-Dkatmesh.learner.keep-checkpoints=2",
                "-Dkatmesh.learner.group-size=4",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.version-every=2",
                "-Dkatmesh.learner.max-staleness=10");
        try (Mesh mesh = Mesh.up("curriculum", Map.of("KATMESH_LEARNER_OPTS", opts))) {
            Map<Long, PolicyVersion> v = LearnerIT.awaitVersions(mesh, 5);
            assertEquals(
                    List.of("base", "midterm", "midterm", "sft", "sft"),
                    v.values().stream().map(PolicyVersion::getStage).toList());
            double bash =
                    Mesh.metric(mesh.http("learner"), "katmesh_learner_mix_records_total", "tags=\"language=bash\"");
            double python =
                    Mesh.metric(mesh.http("learner"), "katmesh_learner_mix_records_total", "tags=\"language=python\"");
            assertEquals(8, bash + python, "4 SFT steps of 2 records");
            assertTrue(
                    bash >= 2,
                    "bash is a third of the records but balanced draws give it about half: " + bash + " of 8");

            LearnerIT.publishGroup(mesh, "rft-1", 4);
            LearnerIT.publishGroup(mesh, "rft-2", 4);
            v = LearnerIT.awaitVersions(mesh, 6);
            assertEquals("rft", v.get(5L).getStage(), "the RFT stage ends after its 2 steps with a version");
            // The records' behaviour log-probs (-6.2 a token) are not the learner's: the mismatch is measured on the
            // last step's 4 sequences of 6 generated tokens, so its per-sequence KL is six times the per-token one.
            String learner = mesh.http("learner");
            double tokenKl = Mesh.metric(learner, "katmesh_learner_mismatch_kl", "per=\"token\"");
            double sequenceKl = Mesh.metric(learner, "katmesh_learner_mismatch_kl", "per=\"sequence\"");
            assertTrue(tokenKl > 0 && Double.isFinite(tokenKl), "KL(behaviour || learner) per token: " + tokenKl);
            assertEquals(6 * tokenKl, sequenceKl, 1e-6 * sequenceKl, "per sequence: the sum over its 6 tokens");
            double truncated = Mesh.metric(learner, "katmesh_learner_offpolicy_truncated_fraction", null);
            assertTrue(truncated >= 0 && truncated <= 1, "token_tis's truncated share: " + truncated);

            // Groups without reward variance teach nothing and are dropped; the budget of 8 trajectories ends the stage
            // without a step (and so without a version), where it would otherwise wait for ever.
            LearnerIT.publishGroup(mesh, "flat-1", 5, new double[] {0, 0, 0, 0});
            LearnerIT.publishGroup(mesh, "flat-2", 5, new double[] {1, 1, 1, 1});
            JsonNode ended = awaitStageEnded(mesh, "rft-budget");
            assertEquals(0, ended.path("steps").asLong(), ended.toString());
            assertEquals("budget", ended.path("ended_by").asText(), ended.toString());

            publishDeployedSessions(mesh, 4);
            v = LearnerIT.awaitVersions(mesh, -7); // at least: the stage after it starts at once
            assertEquals("adapt", v.get(6L).getStage(), "deployed sessions train the adaptation stage");
            assertTrue(Mesh.metric(mesh.http("learner"), "katmesh_learner_trajectories_trained_total", null)
                    >= 16 + 8 + 4 + 8);

            // A stage from an earlier stage's last version (from_stage: midterm), kept though only 2 checkpoints are:
            // published first as it is — midterm's weights byte for byte — then trained on.
            v = LearnerIT.awaitVersions(mesh, 9);
            assertEquals("sft-again", v.get(7L).getStage());
            assertEquals(v.get(2L).getSha256(), v.get(7L).getSha256(), "it starts from midterm's last version");
            assertNotEquals(v.get(6L).getSha256(), v.get(7L).getSha256(), "not from where adaptation ended");
            assertEquals("sft-again", v.get(8L).getStage());
            assertNotEquals(v.get(7L).getSha256(), v.get(8L).getSha256(), "and trains on from there");
        }
    }

    @Test
    void aKilledLearnerResumesMidStage() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/curriculum-resume");
        Files.createDirectories(dir);
        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            corpus.append("{\"text\":\"line ")
                    .append(i)
                    .append(": for i in range(")
                    .append(i)
                    .append("): print(i)\"}\n");
        }
        Files.writeString(dir.resolve("corpus.jsonl"), corpus);
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: midterm
                    objective: lm
                    sources: [{file: corpus.jsonl}]
                    steps: 1000000
                    batch: 4
                """);
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"),
                "-Dkatmesh.learner.version-every=20");
        try (Mesh mesh = Mesh.up("curriculum-resume", Map.of("KATMESH_LEARNER_OPTS", opts))) {
            LearnerIT.awaitVersions(mesh, -3); // at least versions 0, 1 (step 20), 2 (step 40)
            mesh.sigkill("learner");
            Map<Long, PolicyVersion> before = LearnerIT.awaitVersions(mesh, -3);
            long last =
                    before.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
            mesh.katmesh(Duration.ofMinutes(3), "restart", "learner");
            Map<Long, PolicyVersion> after = LearnerIT.awaitVersions(mesh, -(int) (last + 2));
            PolicyVersion resumed = after.get(last + 1);
            assertEquals("midterm", resumed.getStage());
            assertEquals(
                    before.get(last).getStep() + 20,
                    resumed.getStep(),
                    "the restarted learner continues the stage from its checkpoint (step "
                            + before.get(last).getStep() + "), not from 0");
        }
    }

    /** The learner's record of a stage's end, once it has one. */
    static JsonNode awaitStageEnded(Mesh mesh, String stage) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        JsonNode progress = null;
        while (System.nanoTime() < deadline) {
            progress = Mesh.getJson(mesh.http("learner") + "/katmesh/progress");
            for (JsonNode e : progress.path("stages_ended")) {
                if (e.path("stage").asText().equals(stage)) {
                    return e;
                }
            }
            Thread.sleep(300);
        }
        throw new AssertionError("stage " + stage + " did not end in 2 minutes: " + progress);
    }

    /**
     * Sends {@code n} deployed agents' sessions (a failed tool call, then a fixed one) to the raw topic as JSON, for
     * the reward service to score and an adaptation stage to train.
     */
    static void publishDeployedSessions(Mesh mesh, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            Path json = Mesh.scratchFile("deployed", ".json");
            Files.writeString(
                    json,
                    "{\"trajectory_id\":\"dep-" + i + "\",\"group_id\":\"sess-" + i + "\",\"source\":\"deployed\","
                            + "\"messages\":[{\"role\":\"user\",\"content\":\"List files\"},"
                            + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"funct"
                            + "ion\",\"function\":{\"name\":\"bash\",\"arguments\":\"{\\\"cmd\\\":\\\"lss\\\"}\"}}]},"
                            + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"lss: not found\"},"
                            + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c2\",\"type\":\"func"
                            + "tion\",\"function\":{\"name\":\"bash\",\"arguments\":\"{\\\"cmd\\\":\\\"ls\\\"}\"}}]},"
                            + "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"a.py\"},"
                            + "{\"role\":\"assistant\",\"content\":\"One file: a.py\"}],"
                            + "\"steps\":[{\"message_index\":2,\"tool_call_id\":\"c1"
                            + "\",\"exit_code\":127,\"error_class\":\"nonzero_exit\"},"
                            + "{\"message_index\":4,\"tool_call_id\":\"c2\",\"exit_code\":0}]}");
            mesh.kcat("katmesh.trajectories.raw", "sess-" + i, Map.of("content-type", "application/json"), json);
        }
    }
}
