package dev.katmesh.proto.wire;

import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

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
