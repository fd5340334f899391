package dev.katmesh.reward.feedback;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.RejectReason;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

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
 *   <li>a trajectory takes only the verdicts of senders that may rate its agent ({@link FeedbackScopes}): a sender's
 *       verdict for a session of another team's agent changes nothing;
 *   <li>verdicts are kept while the key has a trajectory; a verdict for a key that has none is kept a window from its
 *       arrival (its session may not have ended yet), then dead-lettered as unmatched; one that no trajectory of its
 *       key may take is dead-lettered as out of scope when its window ends or the key's last trajectory does;
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
    record Verdict(Feedback feedback, byte[] original) {
        String sender() {
            return FeedbackSenders.Position.parse(feedback.getPosition()).sender();
        }
    }

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

    /** Dead-letter a verdict that no trajectory took (unmatched, or out of its sender's scope), and end its entry. */
    record Refuse(String joinKey, int partition, Verdict verdict, RejectReason reason, String why) implements Action {}

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
    private final FeedbackScopes scopes;

    JoinState(FeedbackScopes scopes) {
        this.scopes = scopes;
    }

    /** Every verdict of the shared topic rates every session. */
    JoinState() {
        this(FeedbackScopes.parse(FeedbackScopes.DEFAULT));
    }

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

    private void decide(String joinKey, Key k, long now, long window, double weight, List<Action> out) {
        boolean hadTrajectory = !k.held.isEmpty() || !k.released.isEmpty();
        int remaining = 0;
        for (Held h : k.held.values()) {
            List<Feedback> mine = verdictsFor(k, h.scored());
            boolean finalIn = mine.stream().anyMatch(Feedback::getFinal);
            if (finalIn || h.sinceMs() + window <= now) {
                out.add(new Release(
                        joinKey, k.partition, h, FeedbackScore.rescore(h.scored(), mine, weight, 0), finalIn));
            }
            remaining++; // held now, or released by this decision: a trajectory of the key either way
        }
        for (Released r : k.released.values()) {
            List<Feedback> mine = verdictsFor(k, r.scored());
            List<Feedback> late = mine.stream()
                    .filter(f -> !r.applied().contains(f.getPosition()))
                    .toList();
            boolean windowOver = r.sinceMs() + window <= now;
            if (!late.isEmpty() && (windowOver || late.stream().anyMatch(Feedback::getFinal))) {
                out.add(new Revise(joinKey, k.partition, r, FeedbackScore.rescore(r.scored(), mine, weight, 1)));
            } else if (late.isEmpty() && windowOver) {
                out.add(new Forget(joinKey, k.partition, JoinEntry.trajectory(r.id())));
            } else {
                remaining++;
            }
        }
        for (Verdict v : k.feedback.values()) {
            boolean windowOver = v.feedback().getReceivedAtMs() + window <= now;
            if (!hadTrajectory) {
                if (windowOver) {
                    out.add(new Refuse(
                            joinKey,
                            k.partition,
                            v,
                            RejectReason.UNMATCHED_FEEDBACK,
                            "no deployed "
                                    + "trajectory with session (or trajectory) id '" + joinKey
                                    + "' was held or recently released within the feedback window"));
                }
            } else if (!taken(k, v) && (windowOver || remaining == 0)) {
                out.add(new Refuse(
                        joinKey,
                        k.partition,
                        v,
                        RejectReason.FEEDBACK_OUT_OF_SCOPE,
                        "sender '"
                                + v.sender() + "' may not rate session '" + joinKey + "': its agents " + agentsOf(k)
                                + " are outside the sender's scope (katmesh.reward.feedback.senders)"));
            } else if (remaining == 0) { // the key's last trajectory ends: this verdict was applied
                out.add(new Forget(
                        joinKey, k.partition, JoinEntry.feedback(v.feedback().getPosition())));
            }
        }
    }

    /** The key's verdicts that {@code scored}'s agent takes: those of senders that may rate it. */
    private List<Feedback> verdictsFor(Key k, ScoredTrajectory scored) {
        String agent = scored.getTrajectory().getAgentId();
        return k.feedback.values().stream()
                .filter(v -> scopes.mayRate(v.sender(), agent))
                .map(Verdict::feedback)
                .toList();
    }

    /** Whether some trajectory of the key takes {@code v}. */
    private boolean taken(Key k, Verdict v) {
        return agentsOf(k).stream().anyMatch(a -> scopes.mayRate(v.sender(), a));
    }

    private static Set<String> agentsOf(Key k) {
        Set<String> agents = new TreeSet<>();
        k.held.values().forEach(h -> agents.add(h.scored().getTrajectory().getAgentId()));
        k.released.values().forEach(r -> agents.add(r.scored().getTrajectory().getAgentId()));
        return agents;
    }

    private Key key(String joinKey, int partition) {
        return keys.computeIfAbsent(joinKey, x -> new Key(partition));
    }
}
