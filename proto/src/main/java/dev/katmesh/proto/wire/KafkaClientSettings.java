package dev.katmesh.proto.wire;

import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A service's own Kafka clients (besides SmallRye's channels) take the application's kafka.* settings, as
 * Quarkus collects them for every client ({@code @Identifier("default-kafka-broker")}): bootstrap servers,
 * security protocol, SASL and TLS, and whatever else the client kind knows.
 */
public final class KafkaClientSettings {

    private KafkaClientSettings() {}

    /** The settings a consumer knows, with every security setting. */
    public static Properties consumer(Map<String, Object> application) {
        return known(application, ConsumerConfig.configNames());
    }

    /** The settings a producer knows, with every security setting. */
    public static Properties producer(Map<String, Object> application) {
        return known(application, ProducerConfig.configNames());
    }

    /**
     * A producer of the mesh's records (String keys, byte[] values) with every security setting: acks=all and
     * idempotent (Kafka's defaults, stated), zstd, and requests up to the topics' 16 MiB max.message.bytes.
     */
    public static Properties recordProducer(Map<String, Object> application, String clientId) {
        Properties p = producer(application);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "16777216");
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        return p;
    }

    private static Properties known(Map<String, Object> application, Set<String> names) {
        Properties p = new Properties();
        application.forEach((k, v) -> {
            if (names.contains(k) || k.startsWith("sasl.") || k.startsWith("ssl.") || k.equals("security.protocol")) {
                p.put(k, String.valueOf(v));
            }
        });
        return p;
    }
}
