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
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Rebuilds the dedupe store from the durable record of what was scored: the trajectory ids (header
 * {@code katmesh-trajectory-id}) of the newest records of katmesh.trajectories.scored.
 *
 * <p>DESIGN. A raw record's offset is committed only after its scored record was acknowledged, so a
 * crash between the two replays the raw record. The in-memory dedupe store died with the process; the
 * scored topic did not. Reading its tail (up to the store's capacity, across all partitions, written by
 * any reward instance) before scoring resumes makes the replay a recognised duplicate, so every
 * trajectory id is scored once across restarts and partition moves.
 */
final class ScoredIdsRecovery {

    static final String TOPIC = Topics.SCORED;

    private ScoredIdsRecovery() {}

    /** Adds the newest scored ids (at most {@code capacity}) to {@code seen}; returns how many were read. */
    static int recover(Map<String, Object> kafkaConfig, SeenTrajectories seen, int capacity, Duration timeout) {
        Properties p = KafkaClientSettings.consumer(kafkaConfig);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "katmesh-reward-dedupe-recovery");
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
                long from = Math.max(begin.get(tp), end.get(tp) - perPartition);
                consumer.seek(tp, from);
                if (end.get(tp) > from) {
                    remaining.put(tp, end.get(tp));
                }
            }
            while (!remaining.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    Header h = r.headers().lastHeader(RecordHeaders.TRAJECTORY_ID);
                    if (h != null) {
                        seen.add(new String(h.value(), StandardCharsets.UTF_8));
                        read++;
                    }
                }
                remaining.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
            }
            if (!remaining.isEmpty()) {
                throw new IllegalStateException(
                        "reading the scored ids back did not finish within " + timeout + ": " + remaining.keySet());
            }
        }
        return read;
    }
}
