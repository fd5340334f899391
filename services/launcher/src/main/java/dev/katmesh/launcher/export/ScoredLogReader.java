package dev.katmesh.launcher.export;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.Topics;
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
 * (or the first at its start time) to its last (or the partition's end when the read starts: records written during
 * the read are not part of it), with no consumer group (nothing is committed: the learner's position is untouched).
 */
public final class ScoredLogReader {

    /** What a read found: records in the range, those selected, those unreadable, and each partition's offsets. */
    public record Summary(long read, long selected, long unreadable, Map<Integer, long[]> offsets) {}

    /** Receives each selected record with its partition and offset. */
    public interface Sink {
        void accept(ScoredTrajectory record, int partition, long offset) throws Exception;
    }

    private ScoredLogReader() {}

    public static Summary read(KafkaClients kafka, ScoredRange range, Sink sink) throws Exception {
        String topic = Topics.SCORED;
        Properties p = kafka.properties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
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
                long t = Math.min(end.get(tp), range.toOffset());
                if (range.toMs() != Long.MAX_VALUE && atEnd.get(tp) != null) {
                    t = Math.min(t, atEnd.get(tp).offset());
                }
                to.put(tp, Math.max(f, t));
                offsets.put(tp.partition(), new long[] {f, Math.max(f, t)});
                c.seek(tp, f);
            }
            long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(30)) < to.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("reading " + topic + " took over 10 minutes");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    TopicPartition tp = new TopicPartition(topic, r.partition());
                    if (r.offset() >= to.get(tp) || r.timestamp() < range.fromMs() || r.timestamp() >= range.toMs()) {
                        continue;
                    }
                    read++;
                    ScoredTrajectory s;
                    try {
                        s = r.value() == null ? null : ScoredTrajectory.parseFrom(r.value());
                    } catch (InvalidProtocolBufferException e) {
                        s = null;
                    }
                    if (s == null) {
                        unreadable++;
                    } else if (range.selects(s)) {
                        selected++;
                        sink.accept(s, r.partition(), r.offset());
                    }
                }
                for (TopicPartition tp : parts) { // a partition read to its bound stops fetching
                    if (c.position(tp, Duration.ofSeconds(30)) >= to.get(tp)) {
                        c.pause(List.of(tp));
                    }
                }
            }
        }
        return new Summary(read, selected, unreadable, offsets);
    }

    private static Map<TopicPartition, Long> timestamps(List<TopicPartition> parts, long ms) {
        Map<TopicPartition, Long> out = new HashMap<>();
        parts.forEach(tp -> out.put(tp, ms));
        return out;
    }
}
