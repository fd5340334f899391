package dev.katmesh.learner;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * Receives scored trajectories from katmesh.trajectories.scored and counts them in
 * {@code katmesh_learner_trajectories_received_total{source=...}}.
 *
 * <p>The method returns normally only after it has taken the record, so SmallRye acknowledges (and
 * later commits) its offset only then; a record that does not parse is thrown back and dead-lettered.
 */
@ApplicationScoped
public class ScoredTrajectoryConsumer {

    private static final Logger LOG = Logger.getLogger(ScoredTrajectoryConsumer.class);

    private final Map<TrajectorySource, Counter> received = new EnumMap<>(TrajectorySource.class);
    private final MeterRegistry registry;

    @Inject
    public ScoredTrajectoryConsumer(MeterRegistry registry) {
        this.registry = registry;
    }

    @Incoming("trajectories-scored")
    public void onScored(byte[] payload) throws InvalidProtocolBufferException {
        ScoredTrajectory scored = ScoredTrajectory.parseFrom(payload);
        TrajectorySource source = scored.getTrajectory().getSource();
        received.computeIfAbsent(source, s -> Counter.builder("katmesh.learner.trajectories.received")
                        .description("Scored trajectories the learner has received")
                        .tag("source", sourceTag(s))
                        .register(registry))
                .increment();
        LOG.debugf("received trajectory %s of group %s (reward %.3f%s)", scored.getTrajectory().getTrajectoryId(),
                scored.getTrajectory().getGroupId(), scored.getReward(), scored.getPlaceholder() ? ", placeholder" : "");
    }

    private static String sourceTag(TrajectorySource s) {
        return switch (s) {
            case TRAJECTORY_SOURCE_DEPLOYED -> "deployed";
            case TRAJECTORY_SOURCE_ROLLOUT -> "rollout";
            default -> s.name().toLowerCase(Locale.ROOT);
        };
    }
}
