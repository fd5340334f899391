package dev.katmesh.launcher.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.AuditCommand;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reconciles the durable records of the pipeline — what agents published to katmesh.trajectories.raw,
 * what the reward scored to katmesh.trajectories.scored or dead-lettered to katmesh.trajectories.dlq,
 * and what the learner's ledger says each policy version trained or dropped — into one account per
 * trajectory id. Pure: {@link AuditCommand} reads the records; this decides.
 *
 * <p>An id is <b>lost</b> when a stage that has consumed past its record (the consumer group's committed
 * offset is beyond it) has no outcome for it: the reward neither scored nor dead-lettered it (nor saw it
 * as a copy of an id it scored), or the learner neither trained nor dropped it. Records not consumed yet
 * are <b>pending</b>, not lost. <b>trained_twice</b> lists ids two ledger entries (or one, twice) trained;
 * <b>scored_twice</b> ids with more than one first score (or more than one re-score after late feedback). An id whose
 * score the reward holds for its feedback (on katmesh.feedback.join) is <b>pending</b> for the feedback window.
 */
public final class LineageAudit {

    /** A raw record (of either trajectory topic): where it is and the trajectory id it carries (null when unreadable). */
    public record Raw(String topic, int partition, long offset, String id) {
        String position() {
            return topic + "-" + partition + "@" + offset;
        }
    }

    /**
     * A scored record: where it is, its id (the katmesh-trajectory-id header) and its revision (0: its first score; 1:
     * its re-score after late feedback, katmesh-revision).
     */
    public record Scored(int partition, long offset, String id, int revision) {
        public Scored(int partition, long offset, String id) {
            this(partition, offset, id, 0);
        }
    }

    /** A dead-letter record: the raw record it stands for, and why. */
    public record DeadLetter(String rawTopic, int rawPartition, long rawOffset, String reason) {
        String position() {
            return rawTopic + "-" + rawPartition + "@" + rawOffset;
        }
    }

    /** One ledger line (see the learner's TrainingLedger). */
    /**
     * A ledger entry as the audit reads it.
     *
     * @param replay the replay stage that trained the version, or null: an id trained online and again in a replay is
     *               not trained twice; trained twice within one replay (or twice online) it is
     */
    public record LedgerEntry(long version, List<String> trained, Map<String, List<String>> dropped, String replay) {
        public LedgerEntry(long version, List<String> trained, Map<String, List<String>> dropped) {
            this(version, trained, dropped, null);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private LineageAudit() {}

    /**
     * @param rewardCommitted  the reward's committed offset per raw topic-partition ("topic-partition"; absent: nothing consumed)
     * @param learnerCommitted the learner's committed offset per scored partition
     * @param ledger           null when the learner keeps none (no model: it trains nothing), which skips
     *                         the learner's half of the account
     */
    public static ObjectNode reconcile(
            List<Raw> raw,
            List<Scored> scored,
            List<DeadLetter> dlq,
            List<LedgerEntry> ledger,
            Map<String, Long> rewardCommitted,
            Map<Integer, Long> learnerCommitted) {
        return reconcile(raw, scored, dlq, ledger, rewardCommitted, learnerCommitted, Set.of());
    }

    /** @param held the ids whose scores wait on katmesh.feedback.join for their feedback */
    public static ObjectNode reconcile(
            List<Raw> raw,
            List<Scored> scored,
            List<DeadLetter> dlq,
            List<LedgerEntry> ledger,
            Map<String, Long> rewardCommitted,
            Map<Integer, Long> learnerCommitted,
            Set<String> held) {
        Map<String, String> idAt = new HashMap<>(); // "topic-partition@offset" → id of the raw record there
        Set<String> publishedIds = new HashSet<>();
        for (Raw r : raw) {
            String id = r.id() != null ? r.id() : "raw-" + r.position();
            idAt.put(r.position(), id);
            publishedIds.add(id);
        }
        Map<String, Integer> scoredCount = new HashMap<>();
        Map<String, Integer> revisedCount = new HashMap<>();
        Map<String, Scored> firstScored = new HashMap<>();
        for (Scored s : scored) {
            if (s.revision() > 0) {
                revisedCount.merge(s.id(), 1, Integer::sum);
            } else {
                scoredCount.merge(s.id(), 1, Integer::sum);
                firstScored.putIfAbsent(s.id(), s);
            }
        }
        Set<String> deadLettered = new HashSet<>();
        Map<String, Integer> dlqReasons = new TreeMap<>();
        for (DeadLetter d : dlq) {
            String id = idAt.getOrDefault(d.position(), "raw-" + d.position());
            deadLettered.add(d.position());
            deadLettered.add(id);
            dlqReasons.merge(d.reason() == null ? "unknown" : d.reason(), 1, Integer::sum);
        }

        Set<String> lost = new TreeSet<>();
        int pendingReward = 0;
        int pendingFeedback = 0;
        for (Raw r : raw) {
            String id = idAt.get(r.position());
            boolean accounted = scoredCount.containsKey(id) || deadLettered.contains(r.position());
            if (accounted) {
                continue;
            }
            if (held.contains(id)) {
                pendingFeedback++;
                continue;
            }
            if (r.offset() >= rewardCommitted.getOrDefault(r.topic() + "-" + r.partition(), 0L)) {
                pendingReward++;
            } else if (!deadLettered.contains(id)) {
                lost.add(id);
            }
        }

        ObjectNode out = JSON.createObjectNode();
        out.put("published", raw.size());
        out.put("published_ids", publishedIds.size());
        out.put("scored", scored.size());
        out.put("revised", revisedCount.size());
        out.put("dead_lettered", dlq.size());
        Map<String, Integer> dropReasons = new TreeMap<>();
        Set<String> trainedTwice = new TreeSet<>();
        int trained = 0;
        int dropped = 0;
        int pendingLearner = 0;
        if (ledger != null) {
            Map<String, Integer> trainedCount = new HashMap<>();
            Map<String, Integer> replayCount = new HashMap<>(); // "replay stage\u0000id"
            Set<String> droppedIds = new HashSet<>();
            for (LedgerEntry e : ledger) {
                if (e.replay() == null) {
                    e.trained().forEach(id -> trainedCount.merge(id, 1, Integer::sum));
                } else {
                    e.trained().forEach(id -> replayCount.merge(e.replay() + "\u0000" + id, 1, Integer::sum));
                }
                e.dropped().forEach((reason, ids) -> {
                    droppedIds.addAll(ids);
                    dropReasons.merge(reason, ids.size(), Integer::sum);
                });
            }
            trainedCount.forEach((id, n) -> {
                if (n > 1) {
                    trainedTwice.add(id);
                }
            });
            replayCount.forEach((key, n) -> {
                if (n > 1) {
                    trainedTwice.add(key.substring(key.indexOf('\u0000') + 1) + " (replay "
                            + key.substring(0, key.indexOf('\u0000')) + ")");
                }
            });
            replayCount.keySet().forEach(key -> trainedCount.putIfAbsent(key.substring(key.indexOf('\u0000') + 1), 1));
            trained = trainedCount.size();
            for (Map.Entry<String, Scored> e : firstScored.entrySet()) {
                String id = e.getKey();
                if (trainedCount.containsKey(id)) {
                    continue;
                }
                if (droppedIds.contains(id)) {
                    dropped++;
                } else if (e.getValue().offset()
                        >= learnerCommitted.getOrDefault(e.getValue().partition(), 0L)) {
                    pendingLearner++;
                } else {
                    lost.add(id);
                }
            }
        }
        out.put("trained", trained);
        out.put("dropped", dropped);
        ObjectNode pending = out.putObject("pending");
        pending.put("reward", pendingReward);
        pending.put("feedback_window", pendingFeedback);
        if (ledger != null) {
            pending.put("learner", pendingLearner);
        } else {
            pending.putNull("learner");
            out.put("learner", "no ledger (a learner without a model trains nothing)");
        }
        out.set("lost", array(lost));
        out.set("trained_twice", array(trainedTwice));
        Set<String> scoredTwice = new TreeSet<>();
        scoredCount.forEach((id, n) -> {
            if (n > 1) {
                scoredTwice.add(id);
            }
        });
        revisedCount.forEach((id, n) -> {
            if (n > 1) {
                scoredTwice.add(id + " (revised)");
            }
        });
        out.set("scored_twice", array(scoredTwice));
        ObjectNode reasons = out.putObject("dead_letter_reasons");
        dlqReasons.forEach(reasons::put);
        ObjectNode drops = out.putObject("dropped_reasons");
        dropReasons.forEach(drops::put);
        out.put("ok", lost.isEmpty() && trainedTwice.isEmpty() && scoredTwice.isEmpty());
        return out;
    }

    private static ArrayNode array(Collection<String> ids) {
        ArrayNode a = JSON.createArrayNode();
        ids.forEach(a::add);
        return a;
    }

    /** Parses the learner's ledger (JSON lines); a torn last line is ignored. */
    public static List<LedgerEntry> parseLedger(String jsonLines) {
        List<LedgerEntry> entries = new ArrayList<>();
        String[] lines = jsonLines.split("\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            try {
                var n = JSON.readTree(lines[i]);
                List<String> trained = new ArrayList<>();
                n.path("trained").forEach(t -> trained.add(t.asText()));
                Map<String, List<String>> dropped = new LinkedHashMap<>();
                n.path("dropped").fields().forEachRemaining(f -> {
                    List<String> ids = new ArrayList<>();
                    f.getValue().forEach(t -> ids.add(t.asText()));
                    dropped.put(f.getKey(), ids);
                });
                entries.add(new LedgerEntry(
                        n.path("version").asLong(),
                        trained,
                        dropped,
                        n.path("replay").asText(null)));
            } catch (Exception e) {
                if (i < lines.length - 1) {
                    throw new IllegalArgumentException("ledger line " + (i + 1) + " is not JSON: " + e.getMessage(), e);
                }
            }
        }
        return entries;
    }
}
