package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.training.AdvantageShaping;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.LearningRateSchedule;
import dev.katmesh.training.OffPolicyCorrection;
import dev.katmesh.training.TrainingSample;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AdmissionTest {

    static Curriculum.Stage stage(Curriculum.Kind kind, String source, Curriculum.Taskless taskless, double minReward) {
        return new Curriculum.Stage(
                "s",
                kind,
                List.of(new Curriculum.Source(null, "katmesh.trajectories.scored", source, 1)),
                10,
                null,
                Long.MAX_VALUE,
                0,
                1e-3,
                List.of(),
                0,
                minReward,
                1,
                LearningRateSchedule.CONSTANT,
                taskless,
                null,
                -1,
                OffPolicyCorrection.NONE,
                AdvantageShaping.NONE,
                null,
                null,
                0);
    }

    static ScoredTrajectory.Builder scored(String id) {
        return ScoredTrajectory.newBuilder()
                .setReward(0.5)
                .setTrajectory(Trajectory.newBuilder()
                        .setTrajectoryId(id)
                        .setGroupId("g")
                        .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                        .addAllTokenIds(List.of(1, 2, 3))
                        .addSegments(TokenSegment.newBuilder()
                                .setStart(1)
                                .setEnd(3)
                                .setGenerated(true)
                                .setPolicyVersion(4)));
    }

    static final Admission RL = new Admission(
            stage(Curriculum.Kind.POLICY_GRADIENT, null, Curriculum.Taskless.INCLUDE, Double.NaN),
            Set.of("old")::contains,
            8);

    @Test
    void anRlStageAdmitsAGeneratedTrajectoryAndSaysWhichVersionMadeIt() {
        Admission.Decision d = RL.decide(scored("t").build());
        assertTrue(d.admitted(), "dropped: " + d.dropped());
        assertEquals(4, d.oldestVersion(), "the oldest segment's version: the step queue judges staleness from it");
    }

    @Test
    void eachRuleDropsWithItsOwnReason() {
        assertEquals(DropReason.MALFORMED, RL.decide(null).dropped());
        assertEquals(
                DropReason.ALREADY_TRAINED, RL.decide(scored("old").build()).dropped());
        assertEquals(
                DropReason.PLACEHOLDER,
                RL.decide(scored("t").setPlaceholder(true).build()).dropped());
        ScoredTrajectory.Builder noTokens = scored("t");
        noTokens.getTrajectoryBuilder().clearTokenIds();
        assertEquals(DropReason.NO_TOKENS, RL.decide(noTokens.build()).dropped());
        Admission deployedOnly = new Admission(
                stage(Curriculum.Kind.SFT, "deployed", Curriculum.Taskless.INCLUDE, Double.NaN), id -> false, 8);
        assertEquals(
                DropReason.OTHER_SOURCE,
                deployedOnly.decide(scored("t").build()).dropped(),
                "a rollout is not deployed");
        Admission verified = new Admission(
                stage(Curriculum.Kind.SFT, null, Curriculum.Taskless.EXCLUDE, Double.NaN), id -> false, 8);
        assertEquals(
                DropReason.TASKLESS,
                verified.decide(scored("t").setTaskless(true).build()).dropped());
        Admission onlyTaskless =
                new Admission(stage(Curriculum.Kind.SFT, null, Curriculum.Taskless.ONLY, Double.NaN), id -> false, 8);
        assertEquals(
                DropReason.NOT_TASKLESS,
                onlyTaskless.decide(scored("t").build()).dropped());
        Admission rejection =
                new Admission(stage(Curriculum.Kind.SFT, null, Curriculum.Taskless.INCLUDE, 0.9), id -> false, 8);
        assertEquals(
                DropReason.BELOW_MIN_REWARD,
                rejection.decide(scored("t").build()).dropped());
    }

    @Test
    void supervisedStagesTakePlaceholdersAndTokenlessTrajectoriesButNoRewardFloorByDefault() {
        Admission sft = new Admission(
                stage(Curriculum.Kind.SFT, null, Curriculum.Taskless.INCLUDE, Double.NaN), id -> false, 8);
        ScoredTrajectory.Builder published = scored("t").setPlaceholder(true).setReward(-1);
        published.getTrajectoryBuilder().clearTokenIds().clearSegments();
        Admission.Decision d = sft.decide(published.build());
        assertTrue(d.admitted(), "an agent's published trajectory is rendered by the chat template: " + d.dropped());
        assertEquals(-1, d.oldestVersion(), "no version to bound");
    }

    @Test
    void aSampleWithNothingToTrainOrLongerThanTheModelIsDropped() {
        float[] lp = new float[4];
        assertEquals(
                DropReason.NO_GENERATED_TOKENS,
                RL.fits(new TrainingSample(new int[] {1, 2, 3, 4}, new boolean[4], lp, 1)));
        boolean[] all = {true, true, true, true};
        assertNull(RL.fits(new TrainingSample(new int[] {1, 2, 3, 4}, all, lp, 1)));
        boolean[] nine = new boolean[9];
        nine[8] = true;
        assertEquals(
                DropReason.TOO_LONG, RL.fits(new TrainingSample(new int[9], nine, new float[9], 1)), "8 positions");
    }
}
