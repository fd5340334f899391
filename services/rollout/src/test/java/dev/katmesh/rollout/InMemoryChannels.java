package dev.katmesh.rollout;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.smallrye.reactive.messaging.memory.InMemoryConnector;
import java.util.HashMap;
import java.util.Map;

/** The rollout's channels switched to SmallRye's in-memory connector for the length of a test class. */
public class InMemoryChannels implements QuarkusTestResourceLifecycleManager {

    @Override
    public Map<String, String> start() {
        Map<String, String> props = new HashMap<>();
        props.putAll(InMemoryConnector.switchIncomingChannelsToInMemory("tasks", "policy-versions"));
        props.putAll(InMemoryConnector.switchOutgoingChannelsToInMemory("trajectories-rollout"));
        return props;
    }

    @Override
    public void stop() {
        InMemoryConnector.clear();
    }
}
