package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.proto.wire.ScoredRange;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CurriculumTest {

    @TempDir
    Path tmp;

    @Test
    void readsStagesInOrderWithTheirSourcesAndEndConditions() throws Exception {
        Path f = tmp.resolve("curriculum.yaml");
        Files.writeString(f, """
                stages:
                  - name: midterm
                    objective: lm
                    sources: [{file: corpus.jsonl}]
                    steps: 20
                    batch: 4
                  - name: sft
                    objective: sft
                    sources: [{file: a.jsonl, weight: 3}, {file: b.jsonl, weight: 1}]
                    balance_by: [language]
                    steps: 30
                    learning_rate: 1e-4
                  - name: rft
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    until: {metric: reward_mean, at_least: 0.8}
                  - name: adapt
                    objective: error_masked_sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    steps: 10
                    max_trajectories: 64
                """);
        Curriculum c = Curriculum.load(f, 3e-4);
        assertEquals(
                List.of("midterm", "sft", "rft", "adapt"),
                c.stages().stream().map(Curriculum.Stage::name).toList());
        assertEquals(
                tmp.resolve("corpus.jsonl"),
                c.stages().get(0).sources().get(0).file(),
                "paths are relative to the file");
        assertEquals(3e-4, c.stages().get(0).learningRate());
        assertEquals(1e-4, c.stages().get(1).learningRate());
        assertEquals(List.of("language"), c.stages().get(1).balanceBy());
        assertEquals(new Curriculum.Until("reward_mean", 0.8), c.stages().get(2).until());
        assertEquals(Long.MAX_VALUE, c.stages().get(2).steps());
        assertEquals("deployed", c.stages().get(3).sources().get(0).trajectorySource());
        assertEquals(Curriculum.Kind.ERROR_MASKED_SFT, c.stages().get(3).kind());
        assertEquals(2, c.indexOf("rft"));
        assertEquals(64, c.stages().get(3).maxTrajectories(), "a topic stage's budget");
        assertEquals(Long.MAX_VALUE, c.stages().get(2).maxTrajectories(), "no budget unless one is given");
    }

    @Test
    void aBudgetOfTrajectoriesIsAnEndConditionOfTopicStagesOnly() throws Exception {
        Path f = tmp.resolve("budget.yaml");
        Files.writeString(
                f, "stages:\n  - {name: r, objective: policy_gradient, sources: [{topic: t}], max_trajectories: 40}\n");
        Curriculum.Stage r = Curriculum.load(f, 1e-4).stages().get(0);
        assertEquals(40, r.maxTrajectories());
        assertEquals(Long.MAX_VALUE, r.steps(), "a budget alone ends the stage: steps are not required");
        Files.writeString(
                f,
                "stages:\n  - {name: s, objective: sft, sources: [{file: a.jsonl}], steps: 3, max_trajectories: 9}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("max_trajectories"));
        Files.writeString(
                f, "stages:\n  - {name: r, objective: policy_gradient, sources: [{topic: t}], max_trajectories: 0}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("max_trajectories (> 0)"));
    }

    @Test
    void refusesAnInconsistentStage() throws Exception {
        Path f = tmp.resolve("bad.yaml");
        Files.writeString(
                f,
                "stages:\n  - name: x\n    objective: policy_gradient\n    sources: [{file: a.jsonl}]\n    steps: 3\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(e.getMessage().contains("stage 'x'") && e.getMessage().contains("topic"), e.getMessage());
        Files.writeString(
                f, "stages:\n  - name: y\n    objective: dance\n    sources: [{file: a.jsonl}]\n    steps: 3\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("objective must be"));
        Files.writeString(
                f,
                "stages:\n  - name: z\n    objective: sft\n    sources: [{file: a.jsonl}]\n    min_reward: 0.5\n    steps: 3\n");
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                        .getMessage()
                        .contains("min_reward"),
                "min_reward filters scored trajectories: not for files");
        Files.writeString(
                f,
                "stages:\n  - name: w\n    objective: sft\n    sources: [{file: a.jsonl}]\n    version_every: -1\n    steps: 3\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("version_every"));
        Files.writeString(
                f,
                "stages:\n  - name: u\n    objective: sft\n    sources: [{file: a.jsonl}]\n    updates_per_batch: 2\n    steps: 3\n");
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                        .getMessage()
                        .contains("updates_per_batch"),
                "several updates per batch only make sense with a clipped policy gradient");
    }

    @Test
    void eachStageChoosesFullFineTuningOrLoraAndTheLearnersDefaultFollowsTheModelsSize() throws Exception {
        Path f = tmp.resolve("methods.yaml");
        Files.writeString(f, """
                stages:
                  - {name: a, objective: sft, sources: [{file: a.jsonl}], steps: 1}
                  - {name: b, objective: sft, sources: [{file: a.jsonl}], steps: 1, method: full}
                  - {name: c, objective: sft, sources: [{file: a.jsonl}], steps: 1, method: lora}
                  - name: d
                    objective: policy_gradient
                    sources: [{topic: t}]
                    steps: 1
                    lora: {rank: 16, alpha: 32, targets: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]}
                """);
        List<Curriculum.Stage> s = Curriculum.load(f, 1e-4).stages();
        assertEquals(null, s.get(0).method(), "no method: the learner's default");
        assertEquals(TrainingMethod.FULL, s.get(1).method());
        assertEquals(new TrainingMethod(LoraSettings.of(16)), s.get(2).method(), "lora: rank 16, alpha 32, all");
        assertEquals(s.get(2).method(), s.get(3).method(), "spelled out, the same adapters");
        Files.writeString(f, """
                stages:
                  - {name: c, objective: sft, sources: [{file: a.jsonl}], steps: 1, lora: {rank: 8}}
                  - {name: d, objective: sft, sources: [{file: a.jsonl}], steps: 1, lora: {rank: 4}}
                """);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(
                e.getMessage().contains("stages 'c' and 'd'") && e.getMessage().contains("must be equal"),
                e.getMessage());
        Files.writeString(
                f, "stages:\n  - {name: x, objective: sft, sources: [{file: a.jsonl}], steps: 1, method: qlora}\n");
        e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(e.getMessage().contains("method must be full or lora"), e.getMessage());
        Files.writeString(
                f, "stages:\n  - {name: x, objective: sft, sources: [{file: a.jsonl}], steps: 1, lora: {rank: 0}}\n");
        e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(e.getMessage().contains("stage 'x': lora: LoRA rank must be at least 1"), e.getMessage());

        ModelConfig small = ModelConfig.qwen3(512, 64, 128, 2, 4, 2, 16);
        ModelConfig qwen3 = ModelConfig.qwen3(151_936, 1024, 3072, 28, 16, 8, 128); // Qwen3-0.6B's shape
        assertEquals(TrainingMethod.FULL, TrainingMethod.auto(small, TrainingMethod.LORA_ABOVE_PARAMETERS));
        assertEquals(
                new TrainingMethod(LoraSettings.of(16)),
                TrainingMethod.auto(qwen3, TrainingMethod.LORA_ABOVE_PARAMETERS));
        assertEquals(new TrainingMethod(LoraSettings.of(8)), TrainingMethod.of("lora", 8, Long.MAX_VALUE, small));
        assertEquals(TrainingMethod.FULL, TrainingMethod.of("full", 8, 0, qwen3));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TrainingMethod.of("qlora", 8, 0, qwen3))
                .getMessage()
                .contains("full, lora or auto"));
    }

    @Test
    void aStageMayStartFromAnEarlierStagesLastVersion() throws Exception {
        Path f = tmp.resolve("arms.yaml");
        Files.writeString(f, """
                stages:
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 3}
                  - {name: rft-a, objective: policy_gradient, sources: [{topic: t}], steps: 3}
                  - {name: rft, objective: policy_gradient, from_stage: sft, sources: [{topic: t}], steps: 3}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(null, c.stages().get(1).fromStage(), "by default a stage goes on from the one before");
        assertEquals("sft", c.stages().get(2).fromStage());
        assertEquals(
                "sft", c.withDefaultMethod(TrainingMethod.FULL).stages().get(2).fromStage(), "kept");
        Files.writeString(f, """
                stages:
                  - {name: rft, objective: policy_gradient, from_stage: sft, sources: [{topic: t}], steps: 3}
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 3}
                """);
        String later = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage();
        assertTrue(later.contains("stage 'rft'") && later.contains("not an earlier stage"), later);
        Files.writeString(f, """
                stages:
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 3}
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 3}
                """);
        String twice = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage();
        assertTrue(twice.contains("two stages are named 'sft'"), twice);
    }

    @Test
    void aSupervisedStageOnATopicMayTrainAPartialBatchAfterAWait() throws Exception {
        Path f = tmp.resolve("wait.yaml");
        Files.writeString(f, """
                stages:
                  - {name: adapt, objective: error_masked_sft, sources: [{topic: katmesh.trajectories.scored}],
                     steps: 20, batch_wait_ms: 500}
                  - {name: rft, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 2}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(500, c.stages().get(0).batchWaitMs());
        assertEquals(-1, c.stages().get(1).batchWaitMs(), "-1: the learner's group-timeout");
        for (String bad : List.of(
                "{name: r, objective: policy_gradient, sources: [{topic: t}], steps: 2, batch_wait_ms: 500}",
                "{name: s, objective: sft, sources: [{file: a.jsonl}], steps: 2, batch_wait_ms: 500}",
                "{name: s, objective: sft, sources: [{topic: t}], steps: 2, batch_wait_ms: -5}")) {
            Files.writeString(f, "stages:\n  - " + bad + "\n");
            assertTrue(
                    assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                            .getMessage()
                            .contains("batch_wait_ms"),
                    "refused: " + bad);
        }
    }

    @Test
    void aPolicyGradientStageChoosesItsOffPolicyCorrection() throws Exception {
        Path f = tmp.resolve("off-policy.yaml");
        Files.writeString(f, """
                stages:
                  - {name: rft, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 4,
                     off_policy: {correction: sequence_mis, low: 0.5, high: 2},
                     advantage_shaping: {kind: pass_rate, threshold: 0.9}}
                  - {name: rft2, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 4}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(OffPolicyCorrection.sequenceMis(0.5, 2), c.stages().get(0).offPolicy());
        assertEquals(OffPolicyCorrection.NONE, c.stages().get(1).offPolicy(), "none unless asked");
        assertEquals(AdvantageShaping.passRate(0.9, 1.0), c.stages().get(0).advantageShaping());
        assertEquals(AdvantageShaping.NONE, c.stages().get(1).advantageShaping(), "none unless asked");
        Objective o = Curriculum.objective(c.stages().get(0), 0.2, 0.28, 0, LossAggregation.TOKEN_MEAN);
        assertEquals(OffPolicyCorrection.Kind.SEQUENCE_MIS, o.correction().kind(), "the stage's objective carries it");
        Files.writeString(
                f,
                "stages:\n  - {name: s, objective: sft, sources: [{file: a.jsonl}], steps: 3,"
                        + " off_policy: {correction: token_tis}}\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(e.getMessage().contains("stage 's'") && e.getMessage().contains("off_policy"), e.getMessage());
        Files.writeString(
                f,
                "stages:\n  - {name: s, objective: sft, sources: [{file: a.jsonl}], steps: 3,"
                        + " advantage_shaping: {kind: pass_rate}}\n");
        e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
        assertTrue(e.getMessage().contains("advantage_shaping"), e.getMessage());
    }

    @Test
    void rolloutSupervisionIsAPolicyGradientStagesRuleWithDefaultsAndCheckedKeys() throws Exception {
        Path f = tmp.resolve("supervised.yaml");
        Files.writeString(f, """
                stages:
                  - {name: rft, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 4,
                     rollout_supervision: {max_discrepancy: 0.8, enforce: false}}
                  - {name: rft2, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 4}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        var rule = c.stages().get(0).rolloutSupervision();
        assertEquals(0.8, rule.getMaxDiscrepancy());
        assertEquals(2, rule.getPatience(), "default patience");
        assertEquals(2, rule.getGraceTurns(), "default grace");
        assertFalse(rule.getEnforce(), "shadow mode asked for");
        assertEquals("rft", rule.getStage(), "the rule names its stage");
        assertNull(c.stages().get(1).rolloutSupervision(), "none unless asked");
        for (String[] bad : new String[][] {
            {"objective: sft, sources: [{file: a.jsonl}]", "{max_discrepancy: 0.9}", "policy_gradient"},
            {"objective: policy_gradient, sources: [{topic: t}]", "{max_discrepancy: 0}", "max_discrepancy > 0"},
            {"objective: policy_gradient, sources: [{topic: t}]", "{patience: 0}", "patience >= 1"},
            {"objective: policy_gradient, sources: [{topic: t}]", "{threshold: 0.9}", "no key 'threshold'"}
        }) {
            Files.writeString(
                    f, "stages:\n  - {name: s, " + bad[0] + ", steps: 3, rollout_supervision: " + bad[1] + "}\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
            assertTrue(e.getMessage().contains("stage 's'") && e.getMessage().contains(bad[2]), e.getMessage());
        }
    }

    @Test
    void aTreeBudgetPrunesTheSessionTreesOfASupervisedStageOnTheScoredLog() throws Exception {
        Path f = tmp.resolve("budget.yaml");
        Files.writeString(f, """
                stages:
                  - {name: adapt, objective: error_masked_sft, sources: [{topic: katmesh.trajectories.scored}], steps: 4,
                     tree_budget: 4096}
                  - {name: again, objective: sft, sources: [{replay: {source: deployed}}], tree_budget: 512}
                  - {name: plain, objective: sft, sources: [{topic: katmesh.trajectories.scored}], steps: 4}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(4096, c.stages().get(0).treeBudget());
        assertEquals(512, c.stages().get(1).treeBudget(), "a replay's trees too");
        assertEquals(0, c.stages().get(2).treeBudget(), "not pruned unless asked");
        for (String[] bad : new String[][] {
            {"objective: policy_gradient, sources: [{topic: t}]", "64", "rollout tree"},
            {"objective: sft, sources: [{file: a.jsonl}]", "64", "on the scored log"},
            {"objective: lm, sources: [{file: a.jsonl}]", "64", "on the scored log"},
            {"objective: sft, sources: [{topic: t}]", "0", "(> 0)"},
            {"objective: sft, sources: [{topic: t}]", "1.5", "(> 0)"},
            {"objective: sft, sources: [{topic: t}]", "lots", "(> 0)"}
        }) {
            Files.writeString(f, "stages:\n  - {name: s, " + bad[0] + ", steps: 3, tree_budget: " + bad[1] + "}\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
            assertTrue(e.getMessage().contains("stage 's'") && e.getMessage().contains(bad[2]), e.getMessage());
        }
    }

    @Test
    void aReplayStageNamesARangeOfTheScoredLogAsItsOneSource() throws Exception {
        Path f = tmp.resolve("replay.yaml");
        Files.writeString(f, """
                stages:
                  - name: week
                    objective: error_masked_sft
                    sources:
                      - replay: {source: deployed, from: "2026-11-30T00:00:00Z", to: 1796601600000, min_reward: 0.5,
                                 partition: 3, from_offset: 10, task_prefix: swe-}
                """);
        Curriculum.Stage s = Curriculum.load(f, 1e-4).stages().get(0);
        assertTrue(s.fromReplay() && !s.fromTopic());
        assertEquals(Long.MAX_VALUE, s.steps(), "the range ends it");
        var r = s.sources().get(0).replay();
        assertEquals(1_796_601_600_000L - 604_800_000L, r.fromMs(), "ISO-8601: seven days before the epoch-ms end");
        assertEquals(1_796_601_600_000L, r.toMs());
        assertEquals(3, r.partition());
        assertEquals(10, r.fromOffset());
        assertEquals("deployed", r.source());
        assertEquals("swe-", r.taskPrefix());
        assertEquals(0.5, r.minReward());
        assertEquals(ScoredRange.Revisions.FIRST, r.revisions(), "first scores unless told");
        Files.writeString(f, "stages:\n  - {name: late, objective: sft, sources: [{replay: {revisions: revised}}]}\n");
        assertEquals(
                ScoredRange.Revisions.REVISED,
                Curriculum.load(f, 1e-4)
                        .stages()
                        .get(0)
                        .sources()
                        .get(0)
                        .replay()
                        .revisions());
        for (String bad : List.of(
                "{name: x, objective: sft, sources: [{replay: {revisions: all}}]}",
                "{name: x, objective: sft, sources: [{replay: {revisions: newest}}]}",
                "{name: x, objective: policy_gradient, sources: [{replay: {source: rollout}}]}",
                "{name: x, objective: sft, sources: [{replay: {}}, {file: a.jsonl}]}",
                "{name: x, objective: sft, sources: [{replay: {source: agents}}]}",
                "{name: x, objective: sft, sources: [{replay: {from: yesterday}}]}")) {
            Files.writeString(f, "stages:\n  - " + bad + "\n");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4));
            assertTrue(e.getMessage().contains("stage 'x'") && e.getMessage().contains("replay"), e.getMessage());
        }
    }

    @Test
    void stagesMayHaveTheirOwnVersionCadenceAndAMinimumReward() throws Exception {
        Path f = tmp.resolve("cadence.yaml");
        Files.writeString(f, """
                stages:
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 10, version_every: 5}
                  - {name: adapt, objective: error_masked_sft, sources: [{topic: katmesh.trajectories.scored, source: deployed}],
                     steps: 2, min_reward: 0.5}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(5, c.stages().get(0).versionEvery());
        assertTrue(Double.isNaN(c.stages().get(0).minReward()));
        assertEquals(0, c.stages().get(1).versionEvery(), "0: the learner's setting");
        assertEquals(0.5, c.stages().get(1).minReward());
        assertEquals(1, c.stages().get(1).updatesPerBatch(), "one update per batch unless asked");
        Files.writeString(
                f,
                "stages:\n  - {name: rft, objective: policy_gradient, sources: [{topic: "
                        + "katmesh.trajectories.scored}], steps: 4, updates_per_batch: 3}\n");
        assertEquals(3, Curriculum.load(f, 1e-4).stages().get(0).updatesPerBatch());
    }

    @Test
    void aStageMayDecayItsLearningRateOverItsSteps() throws Exception {
        Path f = tmp.resolve("schedule.yaml");
        Files.writeString(f, """
                stages:
                  - {name: sft, objective: sft, sources: [{file: a.jsonl}], steps: 100,
                     lr_schedule: {kind: cosine, warmup_steps: 5, min_ratio: 0.2}}
                  - {name: rft, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 4}
                """);
        Curriculum c = Curriculum.load(f, 1e-4);
        assertEquals(
                new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 5, 0.2),
                c.stages().get(0).schedule());
        assertEquals(LearningRateSchedule.CONSTANT, c.stages().get(1).schedule(), "constant unless asked");
        Files.writeString(
                f,
                "stages:\n  - {name: a, objective: sft, sources: [{file: a.jsonl}], steps: 3, lr_schedule: {kind: step}}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("lr_schedule.kind"));
        Files.writeString(
                f,
                "stages:\n  - {name: a, objective: sft, sources: [{file: a.jsonl}], "
                        + "steps: 3, lr_schedule: {kind: cosine, min_ratio: 2}}\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                .getMessage()
                .contains("min_ratio"));
        Files.writeString(f, """
                stages:
                  - {name: rft, objective: policy_gradient, sources: [{topic: t}], until: {metric: reward_mean, at_least: 0.9},
                     lr_schedule: {kind: linear}}
                """);
        assertTrue(
                assertThrows(IllegalArgumentException.class, () -> Curriculum.load(f, 1e-4))
                        .getMessage()
                        .contains("needs 'steps'"),
                "a decay over an open-ended stage has no end to decay to");
    }

    @Test
    void mixingFollowsWeightsBalancesTagsAndRepeatsPerStep() {
        List<Map<String, String>> a = new ArrayList<>();
        for (int i = 0; i < 90; i++) {
            a.add(Map.of("language", "python", "id", "a" + i));
        }
        for (int i = 0; i < 10; i++) {
            a.add(Map.of("language", "rust", "id", "r" + i));
        }
        List<Map<String, String>> b = List.of(Map.of("language", "go", "id", "b"));
        DataMix<Map<String, String>> mix = new DataMix<>(
                List.of(
                        new DataMix.Pool<>("a", 3, DataMix.group(a, List.of("language"), x -> x)),
                        new DataMix.Pool<>("b", 1, DataMix.group(b, List.of("language"), x -> x))),
                7);
        Map<String, Integer> bySource = new HashMap<>();
        Map<String, Integer> byTag = new HashMap<>();
        for (long step = 0; step < 500; step++) {
            for (DataMix.Draw<Map<String, String>> d : mix.draw(step, 8)) {
                bySource.merge(d.source(), 1, Integer::sum);
                byTag.merge(d.tags(), 1, Integer::sum);
            }
        }
        double shareA = bySource.get("a") / 4000.0;
        assertTrue(Math.abs(shareA - 0.75) < 0.03, "source weights 3:1 give 75% from a, got " + shareA);
        double rust = byTag.get("language=rust") / (double) bySource.get("a");
        assertTrue(
                Math.abs(rust - 0.5) < 0.04,
                "balanced by language: rust is half of a's draws though 10% of its records, got " + rust);
        assertEquals(mix.draw(42, 8), mix.draw(42, 8), "the same step draws the same records (resumable)");
    }
}
