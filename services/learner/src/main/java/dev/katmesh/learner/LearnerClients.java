package dev.katmesh.learner;

import dev.katmesh.proto.wire.KafkaClientSettings;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** The learner's own Kafka clients, with the application's kafka.* settings ({@link KafkaClientSettings}). */
final class LearnerClients {

    private LearnerClients() {}

    /** The consumer of katmesh.trajectories.scored: group katmesh-learner, commits only with checkpoints. */
    static KafkaConsumer<String, byte[]> consumer(Map<String, Object> kafkaConfig) {
        Properties p = KafkaClientSettings.consumer(kafkaConfig);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "katmesh-learner");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // The reward's feedback join publishes scores in transactions: train on committed ones only.
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.putIfAbsent(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "15000");
        p.putIfAbsent(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "3000");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "64");
        // A training step can take a while on a CPU: allow it between polls.
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "600000");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    /** The producer of version announcements: acks=all, idempotent. */
    static KafkaProducer<String, byte[]> producer(Map<String, Object> kafkaConfig) {
        Properties p = KafkaClientSettings.producer(kafkaConfig);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }
}
