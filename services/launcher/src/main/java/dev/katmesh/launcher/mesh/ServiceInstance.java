package dev.katmesh.launcher.mesh;

import java.util.ArrayList;
import java.util.List;

/**
 * One process of a service. The first instance is named as its service ("reward"), so a mesh of one instance
 * each looks as it always did; further ones are "reward-2", "reward-3", … in status, logs, restart and the
 * data directory. Only services that share their work through a Kafka consumer group run several
 * ({@link MeshService#scalable()}).
 */
public record ServiceInstance(MeshService service, int ordinal) {

    public ServiceInstance {
        if (ordinal < 1) {
            throw new IllegalArgumentException("instance ordinals start at 1: " + ordinal);
        }
        if (ordinal > 1 && !service.scalable()) {
            throw new IllegalArgumentException(service.id() + " runs as one instance");
        }
    }

    /** The first (or only) instance of a service. */
    public static ServiceInstance first(MeshService service) {
        return new ServiceInstance(service, 1);
    }

    /** The instances 1..count of a service. */
    public static List<ServiceInstance> of(MeshService service, int count) {
        List<ServiceInstance> all = new ArrayList<>(count);
        for (int i = 1; i <= count; i++) {
            all.add(new ServiceInstance(service, i));
        }
        return all;
    }

    /** Parses "reward" (the first instance) or "reward-2". */
    public static ServiceInstance parse(String id) {
        int dash = id.lastIndexOf('-');
        if (dash > 0 && id.substring(dash + 1).chars().allMatch(Character::isDigit) && dash < id.length() - 1) {
            int ordinal = Integer.parseInt(id.substring(dash + 1));
            if (ordinal < 2) {
                throw new IllegalArgumentException("'" + id + "': the first instance is named as its service");
            }
            return new ServiceInstance(MeshService.of(id.substring(0, dash)), ordinal);
        }
        return first(MeshService.of(id));
    }

    /** The name in status, logs and on the command line. */
    public String id() {
        return ordinal == 1 ? service.id() : service.id() + "-" + ordinal;
    }

    /**
     * The consumer's static group membership id (kafka.group.instance.id): stable across restarts of this
     * instance, so it takes its partitions back at once, and distinct between instances, which would
     * otherwise fence each other out of the group.
     */
    public String groupInstanceId() {
        return "katmesh-" + service.id() + "-" + (ordinal - 1);
    }
}
