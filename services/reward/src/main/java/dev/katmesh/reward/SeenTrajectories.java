package dev.katmesh.reward;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The ids of the trajectories scored recently (a bounded LRU): a redelivered record, or an agent
 * publishing the same trajectory twice, yields one scored record. After a restart it is refilled from
 * katmesh.trajectories.scored ({@link ScoredIdsRecovery}).
 */
final class SeenTrajectories {

    private final Map<String, Boolean> seen;

    SeenTrajectories(int capacity) {
        this.seen = new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                return size() > capacity;
            }
        };
    }

    synchronized boolean contains(String id) {
        return seen.containsKey(id);
    }

    synchronized void add(String id) {
        seen.put(id, Boolean.TRUE);
    }

    synchronized void remove(String id) {
        seen.remove(id);
    }
}
