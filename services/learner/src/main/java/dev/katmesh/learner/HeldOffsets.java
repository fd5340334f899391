package dev.katmesh.learner;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.jboss.logging.Logger;

/**
 * The positions the learner may commit: per partition, the next offset to read and the offsets of records it
 * holds untrained (waiting for their group, or queued). A checkpoint records, per partition, the smallest held
 * offset, or the next one when none is held (the DESIGN note of {@link TrainingLoop}). Positions are keyed as
 * checkpoints store them: "topic-partition".
 */
final class HeldOffsets {

    private static final Logger LOG = Logger.getLogger(HeldOffsets.class);

    private final Map<TopicPartition, TreeSet<Long>> held = new HashMap<>();
    private final Map<TopicPartition, Long> next = new HashMap<>();

    /** A record was read (held or not). */
    void read(TopicPartition tp, long offset) {
        next.put(tp, offset + 1);
    }

    void hold(TopicPartition tp, long offset) {
        held.computeIfAbsent(tp, k -> new TreeSet<>()).add(offset);
    }

    void release(TopicPartition tp, long offset) {
        TreeSet<Long> h = held.get(tp);
        if (h != null) {
            h.remove(offset);
        }
    }

    /** The positions to checkpoint: {@code base} (older checkpoints' positions) updated with this run's. */
    Map<String, Long> positions(Map<String, Long> base) {
        Map<String, Long> out = new HashMap<>(base);
        for (Map.Entry<TopicPartition, Long> e : next.entrySet()) {
            TreeSet<Long> h = held.get(e.getKey());
            out.put(key(e.getKey()), h == null || h.isEmpty() ? e.getValue() : h.first());
        }
        return out;
    }

    /** The partitions read since the last {@link #reset}, each with the next offset read. */
    Map<TopicPartition, Long> readPartitions() {
        return Map.copyOf(next);
    }

    /** Forgets everything (a stage ended: the next one reads from its checkpoint's positions). */
    void reset() {
        held.clear();
        next.clear();
    }

    /**
     * Commits checkpointed {@code positions} to the consumer group; false when the group refused them for now. That
     * is not fatal: the checkpoint just written holds these positions (a restart or a new assignment seeks to them),
     * and the next checkpoint's commit carries them to the group. A broker restart makes the group rebalance, and a
     * commit in the middle of it once stopped the training loop (FaultIT). Other errors (authorization, a closed
     * consumer) are fatal and thrown.
     */
    static boolean commit(Consumer<?, ?> consumer, Map<String, Long> positions) {
        try {
            consumer.commitSync(commitable(positions));
            return true;
        } catch (RebalanceInProgressException | CommitFailedException | RetriableException e) {
            LOG.warnf("committing the learner's offsets failed, the next checkpoint commits them: %s", e);
            return false;
        }
    }

    static Map<TopicPartition, OffsetAndMetadata> commitable(Map<String, Long> positions) {
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        positions.forEach((k, o) -> {
            if (!k.startsWith(ReplayStage.PREFIX)) { // a replay's positions live in the checkpoint only
                commit.put(partition(k), new OffsetAndMetadata(o));
            }
        });
        return commit;
    }

    static String key(TopicPartition tp) {
        return tp.topic() + "-" + tp.partition();
    }

    static TopicPartition partition(String key) {
        int dash = key.lastIndexOf('-');
        return new TopicPartition(key.substring(0, dash), Integer.parseInt(key.substring(dash + 1)));
    }
}
