package dev.katmesh.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.training.AdvantageShaping;
import dev.katmesh.training.Curriculum;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoPlanTest {

    @TempDir
    Path dir;

    private Curriculum curriculum(DemoPlan plan) throws Exception {
        Path f = dir.resolve("curriculum.yaml");
        Files.writeString(f, plan.curriculumYaml());
        return Curriculum.load(f, plan.learningRate());
    }

    @Test
    void theDefaultPlanRunsTheWholeCurriculumWithoutBudgets() throws Exception {
        Curriculum c = curriculum(DemoPlan.standard());
        assertEquals(
                List.of("midterm", "sft", "rft", "adapt"),
                c.stages().stream().map(Curriculum.Stage::name).toList());
        assertTrue(
                c.stages().stream().allMatch(s -> s.maxTrajectories() == Long.MAX_VALUE),
                "the default plan's stages end on their steps");
        assertEquals(10, c.stages().get(1).schedule().warmupSteps(), "200 SFT steps warm up over 10");
    }

    @Test
    void anRftArmRunsFromTheSftCheckpointAndSoDoesGrposRft() throws Exception {
        DemoPlan plan = DemoPlan.standard().with(null, null, null, null, null, "advantage-shaping");
        Curriculum c = curriculum(plan);
        assertEquals(
                List.of("midterm", "sft", "rft-advantage-shaping", "rft", "adapt"),
                c.stages().stream().map(Curriculum.Stage::name).toList());
        Curriculum.Stage arm = c.stages().get(2);
        Curriculum.Stage rft = c.stages().get(3);
        assertEquals(null, arm.fromStage(), "the arm runs right after SFT");
        assertEquals("sft", rft.fromStage(), "GRPO's RFT starts from the same SFT version");
        assertEquals(AdvantageShaping.Kind.PASS_RATE, arm.advantageShaping().kind());
        assertEquals(AdvantageShaping.NONE, rft.advantageShaping(), "GRPO's advantages unshaped");
        assertEquals(rft.steps(), arm.steps());
        assertEquals(rft.learningRate(), arm.learningRate());
        assertEquals(rft.updatesPerBatch(), arm.updatesPerBatch());
        assertTrue(DemoPlan.isRft(arm.name()) && DemoPlan.isRft("rft") && !DemoPlan.isRft("adapt"));
        assertThrows(
                IllegalArgumentException.class,
                () -> DemoPlan.standard().with(null, null, null, null, null, "no-such-arm"));
    }

    @Test
    void treeBudgetsReplayAdaptationsSessionsFromRftOncePerBudget() throws Exception {
        DemoPlan plan = DemoPlan.standard().with(null, null, null, null, null, null, List.of(0, 640, 1));
        Curriculum c = curriculum(plan);
        assertEquals(
                List.of("midterm", "sft", "rft", "adapt", "adapt-tree-none", "adapt-tree-640", "adapt-tree-1"),
                c.stages().stream().map(Curriculum.Stage::name).toList());
        Curriculum.Stage adapt = c.stages().get(3);
        for (Curriculum.Stage s : c.stages().subList(4, 7)) {
            assertEquals("rft", s.fromStage(), s.name() + " starts from RFT's last version, as adaptation did");
            assertTrue(s.fromReplay(), s.name() + " replays the captured sessions");
            assertEquals("deployed", s.sources().get(0).replay().source());
            assertEquals(0.5, s.sources().get(0).replay().minReward(), "adaptation's rejection sampling");
            assertEquals(adapt.kind(), s.kind());
            assertEquals(adapt.learningRate(), s.learningRate(), "one session tree a step at adaptation's rate");
            assertEquals(1, s.batch());
            assertTrue(DemoPlan.isTreeBudgetStage(s.name()));
        }
        assertEquals(
                List.of(0, 640, 1),
                c.stages().subList(4, 7).stream()
                        .map(Curriculum.Stage::treeBudget)
                        .toList());
        assertEquals(2, plan.samplesPerTurn(), "the deployed agents leave dead ends to prune");
        assertEquals(1, DemoPlan.standard().samplesPerTurn(), "and none by default");
        assertTrue(!DemoPlan.isTreeBudgetStage("adapt"));
        assertThrows(
                IllegalArgumentException.class,
                () -> DemoPlan.standard().with(null, null, null, null, null, null, List.of(5, 5)));
    }

    @Test
    void theSupervisionArmEnforcesTheRuleAndGrposRftRunsItInShadowMode() throws Exception {
        Curriculum c = curriculum(DemoPlan.standard().with(null, null, null, null, null, "rollout-supervision"));
        Curriculum.Stage arm = c.stages().get(2);
        Curriculum.Stage rft = c.stages().get(3);
        assertEquals("rft-rollout-supervision", arm.name());
        assertTrue(arm.rolloutSupervision().getEnforce(), "the arm ends deviating episodes");
        assertEquals(
                DemoPlan.SUPERVISION_MAX_DISCREPANCY, arm.rolloutSupervision().getMaxDiscrepancy());
        assertEquals(DemoPlan.SUPERVISION_PATIENCE, arm.rolloutSupervision().getPatience());
        assertEquals(DemoPlan.SUPERVISION_GRACE_TURNS, arm.rolloutSupervision().getGraceTurns());
        assertEquals(
                arm.rolloutSupervision().toBuilder()
                        .setEnforce(false)
                        .setStage("rft")
                        .build(),
                rft.rolloutSupervision(),
                "GRPO's RFT records the same rule's verdicts without acting on them");
        assertEquals("sft", rft.fromStage());
        assertEquals(null, curriculum(DemoPlan.standard()).stages().get(2).rolloutSupervision(), "off by default");
    }

    @Test
    void aUsersCheckpointSkipsMidTermTrainingAndItsTopicStagesHaveABudget() throws Exception {
        DemoPlan plan = DemoPlan.forModel();
        Curriculum c = curriculum(plan);
        assertEquals(
                List.of("sft", "rft", "adapt"),
                c.stages().stream().map(Curriculum.Stage::name).toList(),
                "the model comes trained, with its own tokenizer: no mid-term stage on the suite's corpus");
        assertEquals(plan.sftBatch(), c.stages().get(0).batch());
        assertEquals(
                0,
                c.stages().get(0).schedule().warmupSteps(),
                "a stage of " + plan.sftSteps() + " steps would end before a 10-step warm-up");
        assertEquals(plan.stageBudget(), c.stages().get(1).maxTrajectories(), "RFT ends at its budget");
        assertEquals(plan.stageBudget(), c.stages().get(2).maxTrajectories(), "adaptation ends at its budget");
        assertEquals(1, plan.outstandingGroups(), "no more groups in flight than the budget reads");
        assertEquals(DemoPlan.OUTSTANDING_GROUPS, DemoPlan.standard().outstandingGroups());
        assertEquals(
                String.valueOf(plan.episodes().maxNewTokens()),
                plan.serviceSettings("c", "e").get("rollout").get("katmesh.rollout.max-new-tokens"));
    }

    @Test
    void adaptationTrainsWhatHasArrivedAfterAShortWaitWithTheSameSumOfLearningRates() throws Exception {
        for (DemoPlan plan : List.of(DemoPlan.standard(), DemoPlan.quick(), DemoPlan.forModel())) {
            Curriculum.Stage adapt = curriculum(plan).stages().stream()
                    .filter(st -> st.name().equals("adapt"))
                    .findFirst()
                    .orElseThrow();
            Curriculum.Stage rft = curriculum(plan).stages().stream()
                    .filter(st -> st.name().equals("rft"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(
                    DemoPlan.ADAPT_BATCH_WAIT_MS, adapt.batchWaitMs(), "a deployed session waits 200 ms for others");
            assertEquals((long) plan.adaptSteps() * plan.adaptBatch(), adapt.steps());
            assertEquals(
                    plan.adaptSteps() * rft.learningRate(),
                    adapt.steps() * adapt.learningRate(),
                    1e-12,
                    "steps of one session at the rate divided by the batch: the full batches' sum of rates");
            assertEquals(adapt.steps(), adapt.versionEvery(), "one version at the stage's end");
        }
    }
}
