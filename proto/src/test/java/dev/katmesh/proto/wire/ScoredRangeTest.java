package dev.katmesh.proto.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import org.junit.jupiter.api.Test;

class ScoredRangeTest {

    static ScoredRange revisions(ScoredRange.Revisions r) {
        return new ScoredRange(
                Long.MIN_VALUE,
                Long.MAX_VALUE,
                -1,
                0,
                Long.MAX_VALUE,
                "deployed",
                null,
                null,
                null,
                0.5,
                Double.NaN,
                r);
    }

    static ScoredTrajectory scored(int revision, double reward) {
        return ScoredTrajectory.newBuilder()
                .setTrajectory(Trajectory.newBuilder().setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED))
                .setRevision(revision)
                .setReward(reward)
                .build();
    }

    @Test
    void firstScoresRevisionsOrBothAreSelected() {
        ScoredTrajectory first = scored(0, 0.9);
        ScoredTrajectory revised = scored(1, 0.9);
        assertTrue(revisions(ScoredRange.Revisions.FIRST).selects(first));
        assertFalse(revisions(ScoredRange.Revisions.FIRST).selects(revised), "a re-score is not a first score");
        assertFalse(revisions(ScoredRange.Revisions.REVISED).selects(first));
        assertTrue(revisions(ScoredRange.Revisions.REVISED).selects(revised));
        assertTrue(revisions(ScoredRange.Revisions.ALL).selects(first));
        assertTrue(revisions(ScoredRange.Revisions.ALL).selects(revised));
        assertFalse(revisions(ScoredRange.Revisions.REVISED).selects(scored(1, 0.2)), "the other bounds still apply");
        assertEquals(ScoredRange.Revisions.FIRST, ScoredRange.ALL.revisions());
        assertEquals(ScoredRange.Revisions.FIRST, revisions(null).revisions(), "null means first scores");
    }

    @Test
    void revisionNamesAreParsed() {
        assertEquals(ScoredRange.Revisions.FIRST, ScoredRange.Revisions.parse(null));
        assertEquals(ScoredRange.Revisions.REVISED, ScoredRange.Revisions.parse(" Revised "));
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> ScoredRange.Revisions.parse("latest"));
        assertTrue(e.getMessage().contains("first, revised or all"), e.getMessage());
    }
}
