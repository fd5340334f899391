package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.tasks.HeldOutEvaluation;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VersionEvaluationTest {

    /** Evaluates even versions; holds each evaluation until released, and notes which weights it was given. */
    private static final class HeldEvaluator implements VersionEvaluation.Evaluator {
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch started = new CountDownLatch(1);
        volatile DecoderModel given;
        volatile float firstWeight;

        @Override
        public boolean due(long version, boolean stageEnd) {
            return version % 2 == 0;
        }

        @Override
        public int size() {
            return 2;
        }

        @Override
        public HeldOutEvaluation.Result evaluate(
                DecoderModel model, PolicyTokenizer tokenizer, ChatTemplate template, long version) throws Exception {
            given = model;
            started.countDown();
            assertTrue(release.await(30, TimeUnit.SECONDS), "released");
            firstWeight = model.parameters().get("model.norm.weight").toFloatArray()[0];
            return new HeldOutEvaluation.Result(
                    List.of(
                            new HeldOutEvaluation.TaskResult("h", "count-char", "heldout", true, true, 2, "submitted"),
                            new HeldOutEvaluation.TaskResult("v", "count-char", "validation", false, true, 4, "turns")),
                    5);
        }
    }

    @Test
    void anEvaluationRunsOnACopyBesideTrainingAndPointsStayInVersionOrder(@TempDir Path dir) throws Exception {
        HeldEvaluator evaluator = new HeldEvaluator();
        LearnerProgress progress = new LearnerProgress(dir.resolve("progress.jsonl"));
        try (DecoderModel model = DecoderModel.random(ModelConfig.qwen3(97, 32, 48, 2, 4, 2, 8), 7, Device.cpu());
                VersionEvaluation evaluation =
                        new VersionEvaluation(evaluator, model, null, null, progress, new LearnerMetrics())) {
            evaluation.record(state(0), false); // due: held until released
            assertTrue(evaluator.started.await(30, TimeUnit.SECONDS), "the evaluation started");
            assertNotSame(model, evaluator.given, "it evaluates a copy of the weights");
            // Training goes on meanwhile: the model changes, a version that needs no evaluation is recorded.
            model.parameters().get("model.norm.weight").muli(3f);
            evaluation.record(state(1), false);
            assertTrue(progress.versions().isEmpty(), "version 1's point waits behind version 0's evaluation");
            evaluator.release.countDown();
            evaluation.awaitAll();
            List<VersionPoint> points = progress.versions();
            assertEquals(
                    List.of(0L, 1L), points.stream().map(VersionPoint::version).toList(), "in version order");
            assertEquals(1.0, points.get(0).heldoutPassRate(), "the held-out task passed: " + points.get(0));
            assertEquals(
                    new VersionPoint.FamilyScore(0, 1),
                    points.get(0).validationByFamily().get("count-char"));
            assertTrue(Double.isNaN(points.get(1).heldoutPassRate()), "version 1 was not evaluated");
            assertEquals(1f, evaluator.firstWeight, "the copy kept version 0's weights while the model trained on");
        }
        assertFalse(evaluator.given.parameters().isEmpty() && isOpen(evaluator.given), "the copy is freed after");
    }

    private static boolean isOpen(DecoderModel m) {
        try {
            m.parameters().get("model.norm.weight").toFloatArray();
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    private static CheckpointStore.State state(long version) {
        return new CheckpointStore.State(
                version, version * 10, "sft", version * 10, "sha", Map.of(), 1000 + version, null);
    }
}
