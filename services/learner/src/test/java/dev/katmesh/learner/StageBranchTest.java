package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.training.Curriculum;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A stage started from an earlier one: the weights of that stage's last version, kept however many versions follow. */
class StageBranchTest {

    @TempDir
    Path dir;

    static final Path MODEL = ChatSamplesTest.FIXTURE;

    @Test
    void theStartingVersionIsPinnedAndItsWeightsAreTheOnesAStageStartsFrom() throws Exception {
        Path yaml = dir.resolve("curriculum.yaml");
        Files.writeString(yaml, """
                stages:
                  - {name: sft, objective: sft, sources: [{file: sft.jsonl}], steps: 2}
                  - {name: rft-arm, objective: policy_gradient, sources: [{topic: katmesh.trajectories.scored}], steps: 2}
                  - {name: rft, objective: policy_gradient, from_stage: sft, sources: [{topic: katmesh.trajectories.scored}], steps: 2}
                """);
        Curriculum curriculum = Curriculum.load(yaml, 1e-3);
        CheckpointStore store = new CheckpointStore(dir.resolve("checkpoints"), 1); // keep only the newest
        TrainingLedger ledger = new TrainingLedger(dir.resolve("ledger.jsonl"));
        ModelConfig config = ModelConfig.read(MODEL.resolve("config.json"));
        Map<String, SafeTensors.Tensor> sftWeights;
        try (DecoderModel m = DecoderModel.load(MODEL, config, PolicyModel.device("cpu"))) {
            write(store, ledger, m, 1, "sft", 0.5f);
            StageBranch branch = new StageBranch(store, ledger, curriculum);
            write(store, ledger, m, 2, "sft", 0.25f);
            sftWeights = m.toTensors();
            branch.stageEnded("sft"); // sft's last version, v2, is where rft starts
            branch.stageEnded("rft-arm"); // no stage starts from the arm: nothing pinned
            write(store, ledger, m, 3, "rft-arm", 2f);
            write(store, ledger, m, 4, "rft-arm", 2f);
            assertTrue(Files.isDirectory(store.folder(2)), "the starting version is kept");
            assertFalse(Files.isDirectory(store.folder(1)), "older sft versions are not");
            assertFalse(Files.isDirectory(store.folder(3)), "nor the arm's");

            Map<String, SafeTensors.Tensor> start = branch.weights("sft", config, m.device());
            assertEquals(sftWeights.keySet(), start.keySet());
            sftWeights.forEach(
                    (name, t) -> assertArrayEquals(t.data(), start.get(name).data(), 0f, name));
            assertEquals(2, branch.last("sft").getAsLong());

            // After a restart, the pin comes back from the ledger.
            CheckpointStore restarted = new CheckpointStore(dir.resolve("checkpoints"), 1);
            new StageBranch(restarted, ledger, curriculum);
            write(restarted, ledger, m, 5, "rft", 1f);
            assertTrue(Files.isDirectory(restarted.folder(2)), "pinned again from the ledger");
            assertEquals(
                    5,
                    new StageBranch(restarted, ledger, curriculum).first("rft").getAsLong());
        }
    }

    /** Version {@code v} of {@code stage}: the weights scaled by {@code factor}, written with its ledger entry. */
    private static void write(
            CheckpointStore store, TrainingLedger ledger, DecoderModel m, long v, String stage, float factor)
            throws Exception {
        Map<String, SafeTensors.Tensor> scaled = new LinkedHashMap<>();
        m.toTensors().forEach((name, t) -> {
            float[] d = t.data().clone();
            for (int i = 0; i < d.length; i++) {
                d[i] *= factor;
            }
            scaled.put(name, new SafeTensors.Tensor(t.shape(), d, t.dtype()));
        });
        m.setWeights(scaled);
        TrainingLedger.Entry e = new TrainingLedger.Entry(v, v, stage, List.of(), Map.of(), v);
        store.write(v, v, stage, 1, m, MODEL, null, 0, Map.of(), e, Map.of(), null, null);
        ledger.append(e);
    }
}
