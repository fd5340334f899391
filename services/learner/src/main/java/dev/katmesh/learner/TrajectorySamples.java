package dev.katmesh.learner;

import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.TurnAnnotator;
import java.util.HashSet;
import java.util.Set;

/**
 * The turns of a scored trajectory that get no loss when it is rendered from its messages (one with its own tokens
 * trains as the training library's ScoredSamples reads it), and its oldest policy version.
 */
final class TrajectorySamples {

    private TrajectorySamples() {}

    /**
     * The messages that get no loss when the trajectory is rendered from its messages: the turns that held a secret
     * (redacted: training on them would teach the placeholder), in every objective; and, for error-masked training,
     * the erroneous turns.
     */
    static Set<Integer> maskedTurns(ScoredTrajectory scored, boolean errorMasked) {
        Set<Integer> masked = new HashSet<>(errorMasked ? TurnAnnotator.erroneous(scored.getTurnsList()) : Set.of());
        for (Redaction r : scored.getRedactionsList()) {
            if (r.getMessageIndex() >= 0) {
                masked.add(r.getMessageIndex());
            }
        }
        return masked;
    }

    /** The oldest policy version that generated a token of the trajectory, or -1 if none is known. */
    static long oldestVersion(Trajectory t) {
        long oldest = -1;
        for (TokenSegment s : t.getSegmentsList()) {
            if (s.getGenerated() && s.getEnd() > s.getStart()) {
                oldest = oldest < 0 ? s.getPolicyVersion() : Math.min(oldest, s.getPolicyVersion());
            }
        }
        return oldest;
    }
}
