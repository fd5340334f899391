package dev.katmesh.proto.wire;

import dev.katmesh.proto.v1.TrajectorySource;
import java.util.List;
import java.util.Map;

/**
 * The Kafka topics of the mesh: the names the code uses, one declaration each in kafka-topics/ (a test checks
 * they agree). SmallRye channels name their topics in each service's application.properties.
 */
public final class Topics {

    /** Task definitions, compacted, keyed by task id. */
    public static final String TASKS = "katmesh.tasks";
    /** Trajectories of deployed agents (captured sessions and published ones): the least trusted source. */
    public static final String RAW = "katmesh.trajectories.raw";
    /** Trajectories of the rollout service only (its own ACL). */
    public static final String ROLLOUT = "katmesh.trajectories.rollout";
    /** Scored trajectories: what the learner trains on. */
    public static final String SCORED = "katmesh.trajectories.scored";
    /** Rejected raw records, each with a reason header. */
    public static final String DLQ = "katmesh.trajectories.dlq";
    /** Policy versions announced by the learner. */
    public static final String VERSIONS = "katmesh.policy.versions";
    /** Every request inference serves and every session end, keyed by session: the log sessions are assembled from. */
    public static final String CAPTURE = "katmesh.capture.requests";

    /** Late verdicts on deployed sessions (merged, reverted, CI, ratings), keyed by session or trajectory id. */
    public static final String FEEDBACK = "katmesh.feedback";
    /**
     * The reward's join of deployed trajectories and their feedback while a window is open: compacted, co-partitioned
     * with {@link #FEEDBACK} (its state, read back by whichever instance owns a partition).
     */
    public static final String FEEDBACK_JOIN = "katmesh.feedback.join";

    public static final List<String> ALL =
            List.of(TASKS, RAW, ROLLOUT, SCORED, DLQ, VERSIONS, CAPTURE, FEEDBACK, FEEDBACK_JOIN);

    private static final Map<String, TrajectorySource> SOURCE_BY_TOPIC = Map.of(
            RAW, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED,
            ROLLOUT, TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT);

    private Topics() {}

    /**
     * Where a trajectory came from, decided by the topic it was written to (each has its own ACL), never by the
     * source field its producer wrote: deployed for any topic but the rollout topic.
     */
    public static TrajectorySource sourceOf(String topic) {
        return topic == null
                ? TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED
                : SOURCE_BY_TOPIC.getOrDefault(topic, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED);
    }

    /** A source as metrics, curricula and the audit name it: deployed, rollout or unspecified. */
    public static String sourceTag(TrajectorySource s) {
        return switch (s) {
            case TRAJECTORY_SOURCE_DEPLOYED -> "deployed";
            case TRAJECTORY_SOURCE_ROLLOUT -> "rollout";
            default -> "unspecified";
        };
    }

    /** Every source tag, for counters registered at zero. */
    public static final List<String> SOURCE_TAGS = List.of("deployed", "rollout", "unspecified");
}
