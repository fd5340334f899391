package dev.katmesh.proto.wire;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.ScoredTrajectory;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a {@link ScoredRange} of {@code katmesh.trajectories.scored}: each partition from the range's first offset
 * (or the first at its start time; or where an earlier read of the same range stopped) to its last (or the
 * partition's end when the read starts: records written during the read are not part of it), in offset order within a
 * partition, with no consumer group (nothing is committed: the learner's own position is untouched). Used by
 * {@code ./katmesh export} and by the learner's replay stages.
 */
public final class ScoredLogReader {

    /**
     * What a read found: records in the range, those selected, those unreadable, each partition's offsets
     * {@code [from, to)}, and whether it read to the range's end (false when the sink stopped it).
     */
    public record Summary(long read, long selected, long unreadable, Map<Integer, long[]> offsets, boolean complete) {}

    /** Receives each record of the range in turn; returns false to stop the read there. */
    public interface Sink {
        /**
         * @param record   the record, or null for one that is unreadable or not selected (its offset still advances)
         */
        boolean accept(ScoredTrajectory record, int partition, long offset) throws Exception;
    }

    private ScoredLogReader() {}

    public static Summary read(Properties client, ScoredRange range, Sink sink) throws Exception {
        return read(client, range, Map.of(), sink);
    }

    /**
     * As above, each partition of {@code startAt} from that offset instead (the next record after those an earlier
     * read of the range handed over): a replay resumed from its checkpoint reads every record of the range once.
     *
     * @param client the consumer's connection settings (bootstrap servers, security)
     */
    public static Summary read(Properties client, ScoredRange range, Map<Integer, Long> startAt, Sink sink)
            throws Exception {
        String topic = Topics.SCORED;
        Properties p = new Properties();
        p.putAll(client);
        p.remove(ConsumerConfig.GROUP_ID_CONFIG); // assigned partitions, no group: nothing is committed
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // scores the feedback join committed only
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 * 1024 * 1024 + 4096));
        long read = 0;
        long selected = 0;
        long unreadable = 0;
        Map<Integer, long[]> offsets = new TreeMap<>();
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .filter(i -> range.partition() < 0 || i.partition() == range.partition())
                    .map(i -> new TopicPartition(topic, i.partition()))
                    .toList();
            if (parts.isEmpty()) {
                throw new IllegalArgumentException(topic + " has no partition " + range.partition());
            }
            c.assign(parts);
            Map<TopicPartition, Long> begin = c.beginningOffsets(parts, Duration.ofSeconds(30));
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(30));
            Map<TopicPartition, Long> to = new HashMap<>();
            Map<TopicPartition, OffsetAndTimestamp> atStart = range.fromMs() == Long.MIN_VALUE
                    ? Map.of()
                    : c.offsetsForTimes(timestamps(parts, range.fromMs()), Duration.ofSeconds(30));
            Map<TopicPartition, OffsetAndTimestamp> atEnd = range.toMs() == Long.MAX_VALUE
                    ? Map.of()
                    : c.offsetsForTimes(timestamps(parts, range.toMs()), Duration.ofSeconds(30));
            for (TopicPartition tp : parts) {
                long f = Math.max(begin.get(tp), range.fromOffset());
                if (range.fromMs() != Long.MIN_VALUE) {
                    OffsetAndTimestamp o = atStart.get(tp);
                    f = Math.max(f, o == null ? end.get(tp) : o.offset());
                }
                long first = f;
                f = Math.max(f, startAt.getOrDefault(tp.partition(), f));
                long t = Math.min(end.get(tp), range.toOffset());
                if (range.toMs() != Long.MAX_VALUE && atEnd.get(tp) != null) {
                    t = Math.min(t, atEnd.get(tp).offset());
                }
                to.put(tp, Math.max(f, t));
                offsets.put(tp.partition(), new long[] {first, Math.max(f, t)});
                c.seek(tp, f);
            }
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(30)) < to.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading " + topic + " took over 10 minutes without a record");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
                    TopicPartition tp = new TopicPartition(topic, r.partition());
                    if (r.offset() >= to.get(tp)) {
                        continue;
                    }
                    ScoredTrajectory s = null;
                    if (r.timestamp() >= range.fromMs() && r.timestamp() < range.toMs()) {
                        read++;
                        try {
                            s = r.value() == null ? null : ScoredTrajectory.parseFrom(r.value());
                        } catch (InvalidProtocolBufferException e) {
                            s = null;
                        }
                        if (s == null) {
                            unreadable++;
                        } else if (range.selects(s)) {
                            selected++;
                        } else {
                            s = null;
                        }
                    }
                    if (!sink.accept(s, r.partition(), r.offset())) {
                        return new Summary(read, selected, unreadable, offsets, false);
                    }
                }
                for (TopicPartition tp : parts) { // a partition read to its bound stops fetching
                    if (c.position(tp, Duration.ofSeconds(30)) >= to.get(tp)) {
                        c.pause(List.of(tp));
                    }
                }
            }
        }
        return new Summary(read, selected, unreadable, offsets, true);
    }

    private static Map<TopicPartition, Long> timestamps(List<TopicPartition> parts, long ms) {
        Map<TopicPartition, Long> out = new HashMap<>();
        parts.forEach(tp -> out.put(tp, ms));
        return out;
    }
}
