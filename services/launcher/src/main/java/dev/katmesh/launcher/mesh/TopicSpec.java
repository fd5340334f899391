package dev.katmesh.launcher.mesh;

import java.util.Map;
import java.util.TreeMap;

/**
 * One topic as declared in kafka-topics/ (a Strimzi {@code KafkaTopic}): name, partitions, replicas
 * and topic configs.
 */
public record TopicSpec(String name, int partitions, int replicas, Map<String, String> config) {

    public TopicSpec {
        config = Map.copyOf(config);
    }

    /**
     * This topic as a cluster of {@code brokers} brokers can hold it: replicas and
     * min.insync.replicas are capped at the broker count (a single-node embedded broker gets 1 and 1);
     * everything else is kept.
     */
    public TopicSpec forCluster(int brokers) {
        int r = Math.min(replicas, brokers);
        Map<String, String> c = new TreeMap<>(config);
        c.computeIfPresent("min.insync.replicas", (k, v) -> String.valueOf(Math.min(Integer.parseInt(v), r)));
        return new TopicSpec(name, partitions, r, c);
    }
}
