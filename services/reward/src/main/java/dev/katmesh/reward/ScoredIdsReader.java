package dev.katmesh.reward;

import dev.katmesh.proto.wire.KafkaClientSettings;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads the trajectory ids (header {@code katmesh-trajectory-id}) of katmesh.trajectories.scored, written by any
 * reward instance, from where the last read stopped to the end of each partition, at most the newest
 * {@code capacity} records across partitions ({@link ScoredIds} says why).
 */
final class ScoredIdsReader {

    static final String TOPIC = Topics.SCORED;

    private final Map<String, Object> kafkaConfig;
    private final int capacity;
    /** Per partition, the offset the next read starts at (absent: never read; start at the tail). */
    private final Map<TopicPartition, Long> next = new HashMap<>();

    ScoredIdsReader(Map<String, Object> kafkaConfig, int capacity) {
        this.kafkaConfig = kafkaConfig;
        this.capacity = capacity;
    }

    /** Settings of a consumer that reads without a group (assigned partitions, nothing committed). */
    static Properties consumer(Map<String, Object> kafkaConfig, String clientId) {
        Properties p = KafkaClientSettings.consumer(kafkaConfig);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // the feedback join's releases, once committed
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        return p;
    }

    /** Hands every id written since the last read to {@code sink}; returns how many were read. */
    synchronized int readNew(Consumer<String> sink, Duration timeout) {
        Properties p = consumer(kafkaConfig, "katmesh-reward-scored-ids");
        long deadline = System.nanoTime() + timeout.toNanos();
        int read = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            consumer.partitionsFor(TOPIC, timeout).forEach(i -> parts.add(new TopicPartition(TOPIC, i.partition())));
            consumer.assign(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, timeout);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(parts, timeout);
            long perPartition = Math.max(1, capacity / Math.max(1, parts.size()));
            Map<TopicPartition, Long> remaining = new HashMap<>();
            for (TopicPartition tp : parts) {
                // Since the last read, at most the newest records: what the store keeps. The ids of records that
                // come back with a partition are read by their raw positions besides (HandedOverIds).
                long from = Math.max(
                        Math.max(begin.get(tp), end.get(tp) - perPartition), next.getOrDefault(tp, Long.MIN_VALUE));
                consumer.seek(tp, from);
                if (end.get(tp) > from) {
                    remaining.put(tp, end.get(tp));
                }
            }
            while (!remaining.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    Header h = r.headers().lastHeader(RecordHeaders.TRAJECTORY_ID);
                    if (h != null) {
                        sink.accept(new String(h.value(), StandardCharsets.UTF_8));
                        read++;
                    }
                }
                remaining.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
            }
            if (!remaining.isEmpty()) {
                throw new IllegalStateException(
                        "reading the scored ids did not finish within " + timeout + ": " + remaining.keySet());
            }
            // Only a complete read moves the start of the next (a failed one is read again in full).
            end.forEach(next::put);
        }
        return read;
    }
}
