package dev.katmesh.learner;

import ai.djl.Device;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.training.Curriculum;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Stages that start from an earlier stage's last version ({@link Curriculum.Stage#fromStage}) rather than from where
 * the stage before them ended: the arms of an experiment, each from one checkpoint (RFT with and without a change,
 * from the same SFT version). The versions they start from are pinned in the checkpoint store, found again in the
 * ledger after a restart.
 */
final class StageBranch {

    private static final Logger LOG = Logger.getLogger(StageBranch.class);

    private final CheckpointStore store;
    private final TrainingLedger ledger;
    /** Names of the stages some later stage starts from. */
    private final Set<String> startingPoints;

    StageBranch(CheckpointStore store, TrainingLedger ledger, Curriculum curriculum) {
        this.store = store;
        this.ledger = ledger;
        this.startingPoints = curriculum.stages().stream()
                .map(Curriculum.Stage::fromStage)
                .filter(Objects::nonNull)
                .collect(Collectors.toUnmodifiableSet());
        startingPoints.forEach(s -> last(s).ifPresent(v -> store.pin(s, v)));
    }

    /** A stage ended: its last version is kept when a later stage starts from it. */
    void stageEnded(String stage) {
        if (startingPoints.contains(stage)) {
            last(stage).ifPresent(v -> store.pin(stage, v));
        }
    }

    /** The last version the ledger records for {@code stage}. */
    OptionalLong last(String stage) {
        List<TrainingLedger.Entry> entries = ledger.entries();
        for (int i = entries.size() - 1; i >= 0; i--) {
            if (entries.get(i).stage().equals(stage)) {
                return OptionalLong.of(entries.get(i).version());
            }
        }
        return OptionalLong.empty();
    }

    /** The first version the ledger records for {@code stage} (a branched stage's: the weights it started from). */
    OptionalLong first(String stage) {
        return ledger.entries().stream()
                .filter(e -> e.stage().equals(stage))
                .mapToLong(TrainingLedger.Entry::version)
                .findFirst();
    }

    /** Puts the weights of the last version of {@code s}'s {@code from_stage} into every replica. */
    void startFrom(Curriculum.Stage s, List<DecoderModel> replicas) throws IOException {
        DecoderModel model = replicas.get(0);
        if (model.adapters().isPresent()) {
            throw new IllegalStateException("stage " + s.name() + " starts from stage " + s.fromStage()
                    + ", but the model holds LoRA adapters now: from_stage follows full fine-tuning stages only");
        }
        Map<String, SafeTensors.Tensor> weights = weights(s.fromStage(), model.config(), model.device());
        replicas.forEach(r -> r.setWeights(weights));
        LOG.infof(
                "stage %s starts from the last version of stage %s (version %d)",
                s.name(), s.fromStage(), last(s.fromStage()).getAsLong());
    }

    /** The weights of stage {@code from}'s last version, for a stage to start from. */
    Map<String, SafeTensors.Tensor> weights(String from, ModelConfig config, Device device) throws IOException {
        long v = last(from)
                .orElseThrow(() -> new IllegalStateException(
                        "from_stage " + from + ": that stage has published no version to start from"));
        CheckpointStore.State state = store.state(v)
                .orElseThrow(() -> new IllegalStateException("from_stage " + from + ": the checkpoint of its last"
                        + " version " + v + " is not kept (it was pruned before this learner pinned it)"));
        if (state.adapter()) {
            throw new IllegalStateException("from_stage " + from + ": its last version " + v + " holds LoRA adapters;"
                    + " a stage starts only from a full version (train the starting stage with method: full)");
        }
        try (DecoderModel m = DecoderModel.load(store.folder(v), config, device)) {
            return m.toTensors();
        }
    }
}
