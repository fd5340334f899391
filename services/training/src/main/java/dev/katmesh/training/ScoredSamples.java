package dev.katmesh.training;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import java.util.Arrays;

/** A scored trajectory with its own tokens as the trainer sees it: its tokens, which are the policy's, their log-probs. */
public final class ScoredSamples {

    private ScoredSamples() {}

    /**
     * Tokens of generated segments are trainable (for error-masked training, minus those under the
     * error mask); behaviour log-probs come from the segments (NaN where unknown).
     */
    public static TrainingSample of(ScoredTrajectory scored, boolean applyErrorMask) {
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
    public static boolean openEnd(Trajectory t) {
        return "false".equals(t.getMetadataMap().get(TREE_MAIN_LINE));
    }

    /** The metadata key a captured tree's leaves carry (CaptureTree): whether the session ended on this leaf. */
    public static final String TREE_MAIN_LINE = "tree_main_line";
}
