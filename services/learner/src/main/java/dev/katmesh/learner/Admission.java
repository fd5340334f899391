package dev.katmesh.learner;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.TrainingSample;
import java.util.function.Predicate;

/**
 * Whether a stage takes a scored record: a pure decision over the record, the stage and what was trained
 * already, so it is tested without a broker. Staleness is not decided here but where a group waits for its
 * step ({@link dev.katmesh.training.StepQueue#dropStale}), the one place that knows the version it will train
 * into; admission only reports how stale the record is.
 */
final class Admission {

    /** The verdict: {@code dropped} null when admitted; {@code oldestVersion} -1 when unknown or not an RL stage. */
    record Decision(DropReason dropped, long oldestVersion) {
        boolean admitted() {
            return dropped == null;
        }
    }

    private final Curriculum.Stage stage;
    private final Predicate<String> alreadyTrained;
    private final int maxPositions;

    Admission(Curriculum.Stage stage, Predicate<String> alreadyTrained, int maxPositions) {
        this.stage = stage;
        this.alreadyTrained = alreadyTrained;
        this.maxPositions = maxPositions;
    }

    boolean rl() {
        return stage.kind() == Curriculum.Kind.POLICY_GRADIENT;
    }

    boolean errorMasked() {
        return stage.kind() == Curriculum.Kind.ERROR_MASKED_SFT;
    }

    /** The decision on a record's content ({@code s} null: unreadable). */
    Decision decide(ScoredTrajectory s) {
        if (s == null) {
            return dropped(DropReason.MALFORMED);
        }
        if (alreadyTrained.test(s.getTrajectory().getTrajectoryId())) {
            return dropped(DropReason.ALREADY_TRAINED);
        }
        String wanted = stage.sources().get(0).trajectorySource();
        if (wanted != null && !wanted.equals(Topics.sourceTag(s.getTrajectory().getSource()))) {
            return dropped(DropReason.OTHER_SOURCE);
        }
        if (!stage.taskless().admits(s.getTaskless())) {
            return dropped(s.getTaskless() ? DropReason.TASKLESS : DropReason.NOT_TASKLESS);
        }
        if (!rl()) {
            return !Double.isNaN(stage.minReward()) && s.getReward() < stage.minReward()
                    ? dropped(DropReason.BELOW_MIN_REWARD)
                    : new Decision(null, -1);
        }
        if (s.getPlaceholder()) {
            return dropped(DropReason.PLACEHOLDER);
        }
        if (s.getTrajectory().getTokenIdsCount() < 2) {
            return dropped(DropReason.NO_TOKENS);
        }
        return new Decision(null, TrajectorySamples.oldestVersion(s.getTrajectory()));
    }

    /** The decision on the sample an admitted record makes: null when it trains. */
    DropReason fits(TrainingSample sample) {
        if (sample.trainableCount() == 0) {
            return DropReason.NO_GENERATED_TOKENS;
        }
        return sample.tokens().length > maxPositions ? DropReason.TOO_LONG : null;
    }

    private static Decision dropped(DropReason r) {
        return new Decision(r, -1);
    }
}
