package dev.katmesh.learner;

import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.tasks.TurnAnnotator;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.DataMix;
import dev.katmesh.training.ScoredSamples;
import dev.katmesh.training.TrainingSample;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * A supervised stage over files (mid-term LM text, SFT and error-masked SFT trajectories): each step draws a
 * batch from the stage's sources by their weights ({@link DataMix}), balanced by tags when the stage says so.
 */
final class FileStage {

    private final TrainingRun run;
    private final ChatSamples chat;
    private final BooleanSupplier running;

    FileStage(TrainingRun run, ChatSamples chat, BooleanSupplier running) {
        this.run = run;
        this.chat = chat;
        this.running = running;
    }

    void run() throws Exception {
        Curriculum.Stage stage = run.stage;
        List<DataMix.Pool<FileRecord>> pools = new ArrayList<>();
        for (Curriculum.Source src : stage.sources()) {
            List<FileRecord> records = FileRecord.read(src.file());
            pools.add(new DataMix.Pool<>(
                    src.file().getFileName().toString(),
                    src.weight(),
                    DataMix.group(records, stage.balanceBy(), FileRecord::tags)));
        }
        DataMix<FileRecord> mix = new DataMix<>(pools, stage.name().hashCode());
        boolean errorMasked = stage.kind() == Curriculum.Kind.ERROR_MASKED_SFT;
        int maxPositions = run.model.config().maxPositionEmbeddings();
        while (running.getAsBoolean() && !run.stageDone()) {
            List<TrainingSample> batch = new ArrayList<>();
            for (DataMix.Draw<FileRecord> d : mix.draw(run.stageStep, stage.batch())) {
                run.metrics.mixed(stage.name(), d.source(), d.tags());
                TrainingSample sample = sample(d.record(), errorMasked);
                if (sample.tokens().length > maxPositions) {
                    run.dropped(DropReason.TOO_LONG, null);
                } else if (sample.trainableCount() > 0) {
                    batch.add(sample);
                }
            }
            if (batch.isEmpty()) {
                run.stageStep++;
            } else {
                run.step(List.of(batch), List.of(new double[batch.size()]), batch.size());
            }
            run.maybePublish();
        }
        run.endStage(run.endedBy(0));
    }

    /**
     * A line's sample: text as language modelling; a scored record as the topic's are made (its own token ids and
     * error mask when it has them, else rendered with its erroneous turns masked); a bare trajectory rendered, its
     * turns annotated here for error-masked SFT.
     */
    private TrainingSample sample(FileRecord r, boolean errorMasked) {
        if (r.text() != null) {
            return chat.text(r.text());
        }
        if (r.scored() != null) {
            return r.trajectory().getTokenIdsCount() >= 2
                    ? ScoredSamples.of(r.scored(), errorMasked)
                    : chat.of(r.trajectory(), TrajectorySamples.maskedTurns(r.scored(), errorMasked));
        }
        return chat.of(
                r.trajectory(),
                errorMasked ? TurnAnnotator.annotate(r.trajectory()).erroneous() : Set.of());
    }
}
