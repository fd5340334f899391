package dev.katmesh.reward;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.smallrye.reactive.messaging.memory.InMemoryConnector;
import java.util.HashMap;
import java.util.Map;

/**
 * The reward's channels switched to SmallRye's in-memory connector for the length of a test class (its verdicts go
 * to {@link RecordedOutcomes} instead of Kafka).
 */
public class InMemoryChannels implements QuarkusTestResourceLifecycleManager {

    @Override
    public Map<String, String> start() {
        Map<String, String> props = new HashMap<>();
        props.putAll(
                InMemoryConnector.switchIncomingChannelsToInMemory("trajectories-raw", "tasks", "capture-requests"));
        props.putAll(InMemoryConnector.switchOutgoingChannelsToInMemory("sessions-assembled"));
        return props;
    }

    @Override
    public void stop() {
        InMemoryConnector.clear();
    }
}
