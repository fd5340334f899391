package dev.katmesh.launcher.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ServiceInstanceTest {

    @Test
    void theFirstInstanceKeepsTheServiceNameAndTheOthersAreNumbered() {
        assertEquals(ServiceInstance.first(MeshService.REWARD), ServiceInstance.parse("reward"));
        assertEquals(new ServiceInstance(MeshService.REWARD, 2), ServiceInstance.parse("reward-2"));
        assertEquals("rollout-3", new ServiceInstance(MeshService.ROLLOUT, 3).id());
        assertEquals(
                List.of("reward", "reward-2"),
                ServiceInstance.of(MeshService.REWARD, 2).stream()
                        .map(ServiceInstance::id)
                        .toList());
    }

    @Test
    void groupMembershipIdsAreStableAndDistinct() {
        assertEquals(
                "katmesh-reward-0",
                ServiceInstance.first(MeshService.REWARD).groupInstanceId(),
                "the first instance keeps the id a one-instance mesh always had");
        assertEquals("katmesh-reward-1", ServiceInstance.parse("reward-2").groupInstanceId());
    }

    @Test
    void onlyConsumerGroupWorkersRunSeveral() {
        assertThrows(IllegalArgumentException.class, () -> ServiceInstance.parse("learner-2"));
        assertThrows(IllegalArgumentException.class, () -> ServiceInstance.parse("inference-2"));
        assertThrows(IllegalArgumentException.class, () -> ServiceInstance.parse("reward-1"), "reward-1 is 'reward'");
        assertThrows(IllegalArgumentException.class, () -> ServiceInstance.parse("scorer"));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> new MeshSupervisor.Start(null, Map.of(), Map.of(), false, Map.of("learner", 2)).validate());
        assertTrue(e.getMessage().contains("runs as one instance"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> new MeshSupervisor.Start(null, Map.of(), Map.of(), false, Map.of("reward", 0)).validate());
    }

    @Test
    void theStateListsEveryInstanceInStartOrder() {
        MeshState state = new MeshState();
        state.instances.put("reward", 2);
        state.instances.put("rollout", 3);
        assertEquals(
                List.of("inference", "rollout", "rollout-2", "rollout-3", "reward", "reward-2", "learner"),
                state.instances().stream().map(ServiceInstance::id).toList());
    }
}
