package dev.katmesh.reward.feedback;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import java.util.List;
import org.junit.jupiter.api.Test;

class FeedbackScoreTest {

    static Feedback fb(String id, String kind, double v, String position) {
        return Feedback.newBuilder()
                .setFeedbackId(id)
                .setKind(kind)
                .setValue(v)
                .setPosition(position)
                .build();
    }

    static final ScoredTrajectory BASE = ScoredTrajectory.newBuilder()
            .addComponents(
                    RewardComponent.newBuilder().setName("tests").setValue(0.5).setWeight(1.0))
            .addComponents(RewardComponent.newBuilder()
                    .setName("format_penalty")
                    .setValue(0.25)
                    .setWeight(-0.5))
            .setReward(0.375)
            .build();

    @Test
    void noFeedbackLeavesTheRewardAsItWas() {
        ScoredTrajectory s = FeedbackScore.rescore(BASE, List.of(), 1.0, 0);
        assertEquals(0.375, s.getReward(), 1e-12);
        assertEquals(2, s.getComponentsCount());
    }

    @Test
    void theLatestVerdictOfEachKindCountsAndKindsAreAveraged() {
        List<Feedback> f = List.of(
                fb("m", "pr", 1, "0@1"), // merged...
                fb("ci-1", "ci", 1, "0@2"),
                fb("r", "pr", -1, "0@3")); // ...then reverted: the later pr verdict counts
        ScoredTrajectory s = FeedbackScore.rescore(BASE, f, 0.8, 0);
        RewardComponent c = s.getComponents(2);
        assertEquals("feedback", c.getName());
        assertEquals((1 + -1) / 2.0, c.getValue(), 1e-12, c.getDetail());
        assertEquals(0.375 + 0.8 * 0.0, s.getReward(), 1e-12);
        assertEquals(3, s.getFeedbackCount());
    }

    @Test
    void aVerdictSentTwiceUnderOneIdCountsOnceAndAReScoreReplacesTheOldComponent() {
        List<Feedback> once = List.of(fb("v1", "rating", 0.5, "0@1"));
        List<Feedback> twice = List.of(fb("v1", "rating", 0.5, "0@1"), fb("v1", "rating", 0.5, "0@9"));
        ScoredTrajectory a = FeedbackScore.rescore(BASE, once, 1.0, 0);
        ScoredTrajectory b = FeedbackScore.rescore(a, twice, 1.0, 1);
        assertEquals(a.getReward(), b.getReward(), 1e-12);
        assertEquals(0.375 + 0.5, b.getReward(), 1e-12);
        assertEquals(3, b.getComponentsCount(), "one feedback component: " + b.getComponentsList());
        assertEquals(1, b.getRevision());
    }
}
