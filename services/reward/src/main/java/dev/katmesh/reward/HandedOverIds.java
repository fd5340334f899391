package dev.katmesh.reward;

import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;

/**
 * The ids already scored for the records of newly assigned raw partitions that are not committed yet: the group
 * delivers those records to this instance again, though an instance that had the partition before (or this one,
 * before a restart) may have scored them.
 *
 * <p>DESIGN. A bounded store of recent ids is not enough: while the reward is far behind its producers, a record
 * scored just before its partition moved may come back after more than {@code dedupe-capacity} other ids were
 * scored, and be scored twice (`bench partition-moves` found 4 and 49 such ids). So every scored record names its
 * raw record ({@link RecordHeaders#RAW_POSITION}); its scored copy was written after that raw record was
 * published, so reading the scored topic from the time of the oldest uncommitted raw record (less a margin for
 * clocks) finds every one. Only the ids of records at or after their partition's committed offset are kept: at most
 * what the previous owners had scored and not committed.
 */
final class HandedOverIds {

    /** Producers' clocks may run ahead of the reward's: read the scored topic from this much earlier. */
    static final Duration CLOCK_MARGIN = Duration.ofMinutes(5);

    private HandedOverIds() {}

    /**
     * For raw partitions at their committed offsets ({@code committed}; a partition never committed from its start),
     * the ids scored for their records at or after that offset, with the partition of each.
     */
    static Map<String, TopicPartition> read(
            Map<String, Object> kafkaConfig, Map<TopicPartition, Long> committed, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Long oldest = oldestUncommitted(kafkaConfig, committed, deadline);
        Map<String, TopicPartition> ids = new HashMap<>();
        if (oldest == null) {
            return ids; // nothing uncommitted: nothing comes back
        }
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(ScoredIdsReader.consumer(kafkaConfig, "katmesh-reward-handed-over"))) {
            List<TopicPartition> parts = new ArrayList<>();
            consumer.partitionsFor(Topics.SCORED, timeout)
                    .forEach(i -> parts.add(new TopicPartition(Topics.SCORED, i.partition())));
            consumer.assign(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, timeout);
            Map<TopicPartition, Long> at = new HashMap<>();
            parts.forEach(tp -> at.put(tp, oldest - CLOCK_MARGIN.toMillis()));
            Map<TopicPartition, OffsetAndTimestamp> from = consumer.offsetsForTimes(at, timeout);
            Map<TopicPartition, Long> remaining = new HashMap<>();
            for (TopicPartition tp : parts) {
                OffsetAndTimestamp o = from.get(tp);
                long start = o == null ? end.get(tp) : o.offset();
                consumer.seek(tp, start);
                if (end.get(tp) > start) {
                    remaining.put(tp, end.get(tp));
                }
            }
            while (!remaining.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading the handed-over ids did not finish within " + timeout);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    keepIfUncommitted(r, committed, ids);
                }
                remaining.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
            }
        }
        return ids;
    }

    private static void keepIfUncommitted(
            ConsumerRecord<byte[], byte[]> r, Map<TopicPartition, Long> committed, Map<String, TopicPartition> ids) {
        RecordHeaders.RawPosition position =
                RecordHeaders.RawPosition.parse(RecordHeaders.text(r.headers(), RecordHeaders.RAW_POSITION));
        String id = RecordHeaders.text(r.headers(), RecordHeaders.TRAJECTORY_ID);
        if (position == null || id == null) {
            return;
        }
        TopicPartition tp = new TopicPartition(position.topic(), position.partition());
        if (committed.containsKey(tp)) {
            Long c = committed.get(tp);
            if (position.offset() >= (c == null ? 0 : c)) {
                ids.put(id, tp);
            }
        }
    }

    /** The timestamp of the oldest record at a committed offset, or null when every partition is committed to its end. */
    private static Long oldestUncommitted(
            Map<String, Object> kafkaConfig, Map<TopicPartition, Long> committed, long deadline) {
        Properties p = ScoredIdsReader.consumer(kafkaConfig, "katmesh-reward-handed-over-raw");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50"); // one record a partition is wanted; sessions are large
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>(committed.keySet());
            consumer.assign(parts);
            Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, left);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(parts, left);
            List<TopicPartition> pending = new ArrayList<>();
            for (TopicPartition tp : parts) {
                Long c = committed.get(tp);
                long from = Math.max(begin.get(tp), c == null ? 0 : c);
                if (from < end.get(tp)) {
                    consumer.seek(tp, from);
                    pending.add(tp);
                } else {
                    consumer.pause(List.of(tp));
                }
            }
            Long oldest = null;
            while (!pending.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading the uncommitted raw records' times did not finish");
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    if (pending.remove(tp)) { // the first record at the committed offset
                        oldest = oldest == null ? r.timestamp() : Math.min(oldest, r.timestamp());
                        consumer.pause(List.of(tp));
                    }
                }
            }
            return oldest;
        }
    }
}
