package dev.katmesh.reward;

import dev.katmesh.proto.v1.TrajectorySource;
import java.util.Map;

/**
 * Where a trajectory came from, decided by the topic it was written to — each topic has its own ACL — and
 * never by the source field its producer wrote: only the rollout service may write
 * katmesh.trajectories.rollout, so only its records train as rollouts (docs/reliability.md#access).
 */
final class TrajectorySources {

    static final String RAW = "katmesh.trajectories.raw";
    static final String ROLLOUT = "katmesh.trajectories.rollout";

    private static final Map<String, TrajectorySource> BY_TOPIC = Map.of(
            RAW, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED,
            ROLLOUT, TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT);

    private TrajectorySources() {}

    /** The source of a record read from {@code topic}; deployed for any other topic (the least trusted). */
    static TrajectorySource of(String topic) {
        return topic == null ? TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED
                : BY_TOPIC.getOrDefault(topic, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED);
    }
}
