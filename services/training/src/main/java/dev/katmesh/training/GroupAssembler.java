package dev.katmesh.training;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Collects the samples of each group (all samples of one task or prompt arrive keyed by group id) and
 * releases a group when it is complete, or when its timeout has passed since its first sample. Both
 * outcomes are counted by the caller from {@link Ready#timedOut()}.
 *
 * @param <T> what a member is (a scored trajectory with its Kafka position, in the learner)
 */
public final class GroupAssembler<T> {

    /** A released group. */
    public record Ready<T>(String groupId, List<T> members, boolean timedOut) {}

    private record Pending<T>(long firstSeenMs, List<T> members) {}

    private final int groupSize;
    private final long timeoutMs;
    private final LongSupplier clock;
    private final Map<String, Pending<T>> pending = new LinkedHashMap<>();

    public GroupAssembler(int groupSize, long timeoutMs, LongSupplier clock) {
        if (groupSize < 1) {
            throw new IllegalArgumentException("groupSize must be >= 1");
        }
        this.groupSize = groupSize;
        this.timeoutMs = timeoutMs;
        this.clock = clock;
    }

    /** Adds a member; returns its group if this completes it. */
    public List<Ready<T>> add(String groupId, T member) {
        Pending<T> p = pending.computeIfAbsent(groupId, g -> new Pending<>(clock.getAsLong(), new ArrayList<>()));
        p.members().add(member);
        if (p.members().size() >= groupSize) {
            pending.remove(groupId);
            return List.of(new Ready<>(groupId, p.members(), false));
        }
        return List.of();
    }

    /** Releases every group whose timeout has passed, incomplete. */
    public List<Ready<T>> expired() {
        long now = clock.getAsLong();
        List<Ready<T>> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, Pending<T>>> it = pending.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Pending<T>> e = it.next();
            if (now - e.getValue().firstSeenMs() >= timeoutMs) {
                out.add(new Ready<>(e.getKey(), e.getValue().members(), true));
                it.remove();
            }
        }
        return out;
    }

    /** Members waiting in incomplete groups (their records are not consumed yet). */
    public List<T> waiting() {
        List<T> out = new ArrayList<>();
        pending.values().forEach(p -> out.addAll(p.members()));
        return out;
    }
}
