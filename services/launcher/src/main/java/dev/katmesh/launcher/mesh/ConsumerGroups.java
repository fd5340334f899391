package dev.katmesh.launcher.mesh;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.GroupState;

/** How a consumer group's partitions are shared among its members, as the broker reports it. */
public final class ConsumerGroups {

    private ConsumerGroups() {}

    /** Each member's partitions (group instance id, else member id → "topic-partition" names). */
    public static Map<String, Set<String>> assignment(Admin admin, String group) throws Exception {
        return assignment(describe(admin, group));
    }

    /**
     * Waits until the group is stable with {@code members} members, each assigned at least one partition, and
     * {@code partitions} partitions assigned in all; returns the assignment.
     *
     * @throws IllegalStateException with the last assignment seen, if that does not happen in time
     */
    public static Map<String, Set<String>> awaitStable(
            Admin admin, String group, int members, int partitions, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<String, Set<String>> last = Map.of();
        GroupState state = GroupState.UNKNOWN;
        while (System.nanoTime() < deadline) {
            ConsumerGroupDescription d = describe(admin, group);
            state = d.groupState();
            last = assignment(d);
            Set<String> all = new TreeSet<>();
            last.values().forEach(all::addAll);
            if (state == GroupState.STABLE
                    && last.size() == members
                    && last.values().stream().noneMatch(Set::isEmpty)
                    && all.size() == partitions) {
                return last;
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("consumer group " + group + " did not settle at " + members + " members and "
                + partitions + " partitions within " + timeout + " (" + state + "): " + last);
    }

    private static ConsumerGroupDescription describe(Admin admin, String group) throws Exception {
        return admin.describeConsumerGroups(Set.of(group))
                .describedGroups()
                .get(group)
                .get(30, TimeUnit.SECONDS);
    }

    private static Map<String, Set<String>> assignment(ConsumerGroupDescription d) {
        Map<String, Set<String>> out = new TreeMap<>();
        for (MemberDescription m : d.members()) {
            Set<String> parts = new TreeSet<>();
            m.assignment().topicPartitions().forEach(tp -> parts.add(tp.toString()));
            out.put(m.groupInstanceId().orElse(m.consumerId()), parts);
        }
        return out;
    }
}
