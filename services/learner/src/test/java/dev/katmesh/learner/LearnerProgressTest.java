package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.training.PolicyMismatch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LearnerProgressTest {

    static VersionPoint point(long v, String stage, double rate) {
        return new VersionPoint(
                v,
                stage,
                v * 10,
                v,
                0.5,
                Double.NaN,
                rate,
                (int) (rate * 10),
                Double.isNaN(rate) ? 0 : 10,
                v * 80,
                1000 + v,
                5,
                Double.isNaN(rate)
                        ? Map.of()
                        : Map.of("grep-count", new VersionPoint.FamilyScore((int) (rate * 10), 10)),
                Map.of());
    }

    @Test
    void theVersionHistorySurvivesARestartAndARepublishedVersionReplacesItsOlderCopy(@TempDir Path dir)
            throws Exception {
        Path file = dir.resolve("progress.jsonl");
        LearnerProgress p = new LearnerProgress(file);
        p.published(point(0, "base", 0.0));
        p.published(point(1, "sft", 0.2));
        p.published(point(2, "sft", Double.NaN));
        // The learner crashed after version 2 and resumed from version 1's checkpoint: 2 is published again.
        LearnerProgress resumed = new LearnerProgress(file);
        assertEquals(3, resumed.versions().size(), "reloaded from progress.jsonl");
        resumed.published(point(2, "rft", 0.4));
        List<VersionPoint> vs = new LearnerProgress(file).versions();
        assertEquals(List.of(0L, 1L, 2L), vs.stream().map(VersionPoint::version).toList());
        assertEquals("rft", vs.get(2).stage(), "the newer copy of version 2 wins");
        assertTrue(
                Double.isNaN(new LearnerProgress(file).versions().get(0).rewardMean()), "NaN survives the round trip");
        assertEquals(
                new VersionPoint.FamilyScore(4, 10),
                new LearnerProgress(file).versions().get(2).heldoutByFamily().get("grep-count"),
                "the per-family split survives the round trip");
        Files.writeString(
                file,
                "{\"version\":3,\"stage\":\"rft\",\"step\":30,\"stageStep\":3,\"loss\":0.1,\"rewardMean\":0.5,"
                        + "\"heldoutPassRate\":0.5,\"heldoutPassed\":5,\"heldoutTotal\":10,"
                        + "\"trajectoriesTrained\":240,\"createdAtMs\":1003,\"evalMs\":5}\n",
                StandardOpenOption.APPEND);
        assertEquals(
                Map.of(),
                new LearnerProgress(file).versions().get(3).heldoutByFamily(),
                "a line written before the split was recorded reads");
        Files.writeString(file, "{\"version\": 3, \"sta", StandardOpenOption.APPEND);
        assertEquals(4, new LearnerProgress(file).versions().size(), "a torn last line (crash mid-append) is skipped");
    }

    @Test
    void theSnapshotHasLiveFiguresAndEveryVersion(@TempDir Path dir) {
        LearnerProgress p = new LearnerProgress(dir.resolve("progress.jsonl"));
        p.curriculum(List.of("sft", "rft"));
        p.stage("rft", "policy_gradient", 3, 40);
        p.published(point(0, "base", 0.0));
        p.published(point(1, "rft", 0.3));
        for (int i = 1; i <= 100; i++) {
            p.latency(i * 10L);
        }
        p.staleness(0);
        p.staleness(2);
        p.stepped(7, 4, 0.25, 0.6, 8, 4000, 700);
        p.stage("adapt", "error_masked_sft", 0, 10);
        p.latency(1200, 200);
        p.latency(300, 250);
        p.stepped(8, 1, 0.2, Double.NaN, 2, 900, 400);
        p.stage("rft", "policy_gradient", 4, 40);
        p.dropped("stale", 3);
        JsonNode s = p.snapshot();
        assertEquals("rft", s.path("stage").asText());
        assertEquals(4, s.path("stage_step").asLong());
        assertEquals(40, s.path("stage_steps").asLong());
        assertEquals(1, s.path("policy_version").asLong());
        assertEquals(500, s.path("agent_to_trainer_ms").path("p50").asLong());
        assertEquals(1000, s.path("agent_to_trainer_ms").path("p99").asLong(), "the window over every stage");
        JsonNode rft = s.path("agent_to_trainer_by_stage").path("rft");
        assertEquals(100, rft.path("count").asInt(), "rft's own latencies: " + s.path("agent_to_trainer_by_stage"));
        assertEquals(990, rft.path("p99").asLong());
        assertEquals(700, rft.path("step_max_ms").asLong());
        assertEquals(290, rft.path("p99_minus_step_max_ms").asLong(), "p99 against one step of the stage");
        JsonNode adapt = s.path("agent_to_trainer_by_stage").path("adapt");
        assertEquals(2, adapt.path("count").asInt());
        assertEquals(1200, adapt.path("p99").asLong());
        assertEquals(800, adapt.path("p99_minus_step_max_ms").asLong());
        assertEquals(250, adapt.path("learner_hop_p99_ms").asLong(), "scored -> trained: " + adapt);
        assertEquals(
                1000, adapt.path("reward_hop_p99_ms").asLong(), "agent -> scored, the rest of each latency: " + adapt);
        assertTrue(rft.path("learner_hop_p99_ms").isMissingNode(), "no hops where only totals were known: " + rft);
        assertEquals(1.0, s.path("staleness").path("mean").asDouble(), 1e-9);
        assertEquals(3, s.path("dropped").path("stale").asLong());
        assertEquals(10, s.path("trajectories_trained").asLong());
        assertTrue(s.path("trajectories_per_s").asDouble() > 0);
        assertEquals(2, s.path("policy_versions").size());
        assertEquals(
                0.3, s.path("policy_versions").get(1).path("heldout_pass_rate").asDouble(), 1e-9);
        assertTrue(s.path("policy_versions").get(0).path("reward_mean").isNull(), "NaN is null in JSON");
        JsonNode family =
                s.path("policy_versions").get(1).path("heldout_by_family").path("grep-count");
        assertEquals(3, family.path("passed").asInt(), "held-out split by task family: " + s.path("policy_versions"));
        assertEquals(10, family.path("total").asInt());
    }

    @Test
    void aPolicyGradientStageReportsItsMismatchForTheLastStepAndTheStage(@TempDir Path dir) {
        LearnerProgress p = new LearnerProgress(dir.resolve("progress.jsonl"));
        p.stage("rft", "policy_gradient", 0, 10);
        assertTrue(p.snapshot().path("off_policy").isMissingNode(), "nothing before a policy-gradient step");
        p.mismatch("token_tis(cap 2.0)", new PolicyMismatch(10, 2, 0.5, 0.2, 1, 0, 0));
        p.mismatch("token_tis(cap 2.0)", new PolicyMismatch(30, 2, 1.0, 0.6, 3, 0, 0));
        JsonNode m = p.snapshot().path("off_policy");
        assertEquals("token_tis(cap 2.0)", m.path("correction").asText());
        assertEquals(0.02, m.path("last_step").path("token_kl").asDouble(), 1e-12, m.toString());
        assertEquals(0.3, m.path("last_step").path("sequence_kl").asDouble(), 1e-12);
        assertEquals(0.1, m.path("last_step").path("truncated_fraction").asDouble(), 1e-12);
        assertEquals(40, m.path("stage").path("tokens").asInt());
        assertEquals(0.02, m.path("stage").path("token_kl").asDouble(), 1e-12, "0.8 over 40 tokens");
        assertEquals(0.2, m.path("stage").path("sequence_kl").asDouble(), 1e-12, "0.8 over 4 sequences");
        p.stage("adapt", "error_masked_sft", 0, 10);
        assertTrue(p.snapshot().path("off_policy").isMissingNode(), "a new stage starts without");
    }
}
