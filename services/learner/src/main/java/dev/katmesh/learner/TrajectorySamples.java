package dev.katmesh.learner;

import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.TurnAnnotator;
import dev.katmesh.training.TrainingSample;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/** A scored trajectory as the trainer sees it: its tokens, which of them are the policy's, their log-probs. */
final class TrajectorySamples {

    private TrajectorySamples() {}

    /**
     * Tokens of generated segments are trainable (for error-masked training, minus those under the
     * error mask); behaviour log-probs come from the segments (NaN where unknown).
     */
    static TrainingSample of(ScoredTrajectory scored, boolean applyErrorMask) {
        Trajectory t = scored.getTrajectory();
        int n = t.getTokenIdsCount();
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = t.getTokenIds(i);
        }
        boolean[] trainable = new boolean[n];
        float[] behaviour = new float[n];
        Arrays.fill(behaviour, Float.NaN);
        for (TokenSegment s : t.getSegmentsList()) {
            if (!s.getGenerated()) {
                continue;
            }
            for (int i = s.getStart(); i < Math.min(s.getEnd(), n); i++) {
                boolean masked = applyErrorMask && i < scored.getErrorMaskCount() && scored.getErrorMask(i);
                trainable[i] = !masked;
                int k = i - s.getStart();
                if (k < s.getLogprobsCount()) {
                    behaviour[i] = s.getLogprobs(k);
                }
            }
        }
        return new TrainingSample(tokens, trainable, behaviour, 0);
    }

    /**
     * Whether the trajectory ends on a turn nothing acted on: a captured session tree's leaf that the session did not
     * end on ({@code tree_main_line: false}, e.g. an answer the agent sampled again). Anything else, rollouts and
     * leaves captured before the key existed included, ends on a turn that counted.
     */
    static boolean openEnd(Trajectory t) {
        return "false".equals(t.getMetadataMap().get(TREE_MAIN_LINE));
    }

    /** The metadata key a captured tree's leaves carry (CaptureTree): whether the session ended on this leaf. */
    static final String TREE_MAIN_LINE = "tree_main_line";

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
