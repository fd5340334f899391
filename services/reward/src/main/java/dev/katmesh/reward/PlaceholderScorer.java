package dev.katmesh.reward;

import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import java.time.Clock;

/**
 * Wraps a validated trajectory in a {@link ScoredTrajectory} whose reward is a placeholder: zero, with
 * {@code placeholder = true} and scorer {@value #SCORER}. It carries the trajectory through the mesh
 * until the multi-ground-truth reward replaces it; learners must not train RL objectives on it.
 */
public final class PlaceholderScorer {

    /** The scorer id written on every record this class produces. */
    public static final String SCORER = "placeholder/v0";

    private final Clock clock;

    public PlaceholderScorer(Clock clock) {
        this.clock = clock;
    }

    public ScoredTrajectory score(Trajectory trajectory, int ignoredAgentFields) {
        return ScoredTrajectory.newBuilder()
                .setTrajectory(trajectory)
                .addComponents(RewardComponent.newBuilder()
                        .setName("placeholder")
                        .setValue(0)
                        .setWeight(0)
                        .setDetail("no scoring yet: the multi-ground-truth reward is not enabled"))
                .setReward(0)
                .setPlaceholder(true)
                .setTaskless(trajectory.getTaskId().isEmpty())
                .setScoredAtMs(clock.millis())
                .setScorer(SCORER)
                .setIgnoredAgentFields(ignoredAgentFields)
                .build();
    }
}
