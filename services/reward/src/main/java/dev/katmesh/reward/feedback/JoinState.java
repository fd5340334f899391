package dev.katmesh.reward.feedback;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.ScoredTrajectory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The join of deployed trajectories and their feedback, for the partitions of katmesh.feedback.join this instance
 * owns: what the topic says (applied as it is read, {@link JoinEntry}), and what to do next ({@link #decide}). Pure:
 * no Kafka here, so the rules are tested with a clock in hand.
 *
 * <p>DESIGN. Per join key (a session):
 * <ul>
 *   <li>a held trajectory is released — scored once, with every verdict so far — when a final verdict is in, or when
 *       it has been held for the window;
 *   <li>a released trajectory is kept another window for late verdicts: if any come, it is re-scored once (revision 1)
 *       when the window ends (or at once on a final one), then forgotten; if none, it is forgotten;
 *   <li>verdicts are kept while the key has a trajectory; a verdict for a key that has none is kept a window from its
 *       arrival (its session may not have ended yet), then dead-lettered as unmatched;
 *   <li>a key with an entry written but not read back yet ({@code busy}) is not decided again until it is.
 * </ul>
 */
final class JoinState {

    record Held(String id, ScoredTrajectory scored, long sinceMs, String publishedMs, String rawPosition) {}

    record Released(
            String id,
            ScoredTrajectory scored,
            long sinceMs,
            List<String> applied,
            String publishedMs,
            String rawPosition) {}

    /** A feedback record: as parsed, and as sent (for its dead letter). */
    record Verdict(Feedback feedback, byte[] original) {}

    sealed interface Action {
        String joinKey();

        int partition();
    }

    /** Publish {@code score} (revision 0) and keep the trajectory as released. */
    record Release(String joinKey, int partition, Held held, ScoredTrajectory score, boolean byFinal)
            implements Action {}

    /** Publish {@code score} (revision 1) and forget the trajectory. */
    record Revise(String joinKey, int partition, Released released, ScoredTrajectory score) implements Action {}

    /** End an entry (a tombstone). */
    record Forget(String joinKey, int partition, String entry) implements Action {}

    /** Dead-letter a verdict that matched nothing within the window, and end its entry. */
    record Unmatched(String joinKey, int partition, Verdict verdict) implements Action {}

    private static final class Key {
        final int partition;
        final Map<String, Held> held = new LinkedHashMap<>();
        final Map<String, Released> released = new LinkedHashMap<>();
        final Map<String, Verdict> feedback = new LinkedHashMap<>(); // by position, in arrival order

        Key(int partition) {
            this.partition = partition;
        }

        boolean empty() {
            return held.isEmpty() && released.isEmpty() && feedback.isEmpty();
        }
    }

    private final Map<String, Key> keys = new HashMap<>();

    void held(String joinKey, int partition, Held h) {
        Key k = key(joinKey, partition);
        if (!k.released.containsKey(h.id())) { // a raw record delivered again after its release: released stays
            k.held.put(h.id(), h);
        }
    }

    void released(String joinKey, int partition, Released r) {
        Key k = key(joinKey, partition);
        k.held.remove(r.id());
        k.released.put(r.id(), r);
    }

    void feedback(String joinKey, int partition, Verdict v) {
        key(joinKey, partition).feedback.put(v.feedback().getPosition(), v);
    }

    /** A tombstone of {@code entry} was read. */
    void ended(String joinKey, String entry) {
        Key k = keys.get(joinKey);
        if (k == null) {
            return;
        }
        if (entry.startsWith("t/")) {
            k.held.remove(entry.substring(2));
            k.released.remove(entry.substring(2));
        } else if (entry.startsWith("f/")) {
            k.feedback.remove(entry.substring(2));
        }
        if (k.empty()) {
            keys.remove(joinKey);
        }
    }

    /** The partitions moved to another instance (or were lost): their keys are its concern now. */
    void drop(Collection<Integer> partitions) {
        keys.values().removeIf(k -> partitions.contains(k.partition));
    }

    int heldCount() {
        return keys.values().stream().mapToInt(k -> k.held.size()).sum();
    }

    int releasedCount() {
        return keys.values().stream().mapToInt(k -> k.released.size()).sum();
    }

    int unmatchedCount() {
        return keys.values().stream()
                .filter(k -> k.held.isEmpty() && k.released.isEmpty())
                .mapToInt(k -> k.feedback.size())
                .sum();
    }

    /** What is due at {@code nowMs}, for keys not {@code busy}. */
    List<Action> decide(long nowMs, long windowMs, double weight, Set<String> busy) {
        List<Action> out = new ArrayList<>();
        keys.forEach((joinKey, k) -> {
            if (!busy.contains(joinKey)) {
                decide(joinKey, k, nowMs, windowMs, weight, out);
            }
        });
        return out;
    }

    private static void decide(String joinKey, Key k, long now, long window, double weight, List<Action> out) {
        List<Feedback> all = k.feedback.values().stream().map(Verdict::feedback).toList();
        boolean finalIn = all.stream().anyMatch(Feedback::getFinal);
        boolean hadTrajectory = !k.held.isEmpty() || !k.released.isEmpty();
        int remaining = 0;
        for (Held h : k.held.values()) {
            if (finalIn || h.sinceMs() + window <= now) {
                out.add(new Release(
                        joinKey, k.partition, h, FeedbackScore.rescore(h.scored(), all, weight, 0), finalIn));
            }
            remaining++; // held now, or released by this decision: a trajectory of the key either way
        }
        for (Released r : k.released.values()) {
            List<Feedback> late = all.stream()
                    .filter(f -> !r.applied().contains(f.getPosition()))
                    .toList();
            boolean windowOver = r.sinceMs() + window <= now;
            if (!late.isEmpty() && (windowOver || late.stream().anyMatch(Feedback::getFinal))) {
                out.add(new Revise(joinKey, k.partition, r, FeedbackScore.rescore(r.scored(), all, weight, 1)));
            } else if (late.isEmpty() && windowOver) {
                out.add(new Forget(joinKey, k.partition, JoinEntry.trajectory(r.id())));
            } else {
                remaining++;
            }
        }
        if (!hadTrajectory) {
            for (Verdict v : k.feedback.values()) {
                if (v.feedback().getReceivedAtMs() + window <= now) {
                    out.add(new Unmatched(joinKey, k.partition, v));
                }
            }
        } else if (remaining == 0) { // the key's last trajectory ends: its verdicts were all applied
            k.feedback.keySet().forEach(p -> out.add(new Forget(joinKey, k.partition, JoinEntry.feedback(p))));
        }
    }

    private Key key(String joinKey, int partition) {
        return keys.computeIfAbsent(joinKey, x -> new Key(partition));
    }
}
