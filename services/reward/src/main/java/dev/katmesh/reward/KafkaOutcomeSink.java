package dev.katmesh.reward;

import dev.katmesh.proto.wire.KafkaClientSettings;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * One Kafka producer for the scored and dead-letter topics, called from the scoring threads directly: acks=all and
 * idempotent, zstd. A record's acknowledgement comes back on the producer's own thread, with nothing between
 * (an emitter channel cost a Mutiny pipeline, a context capture and a thread hop per record; docs/benchmarks.md,
 * "A poll at a time, one producer out", measures the change).
 */
@ApplicationScoped
class KafkaOutcomeSink implements OutcomeSink {

    private final KafkaProducer<String, byte[]> producer;

    @Inject
    KafkaOutcomeSink(
            @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig,
            // How long the producer waits to fill a batch (ProducerConfig linger.ms; Kafka's default is 5 ms).
            @ConfigProperty(name = "katmesh.reward.producer.linger-ms", defaultValue = "5") int lingerMs,
            // Bytes a batch of one partition holds at most (ProducerConfig batch.size; Kafka's default is 16 KiB).
            @ConfigProperty(name = "katmesh.reward.producer.batch-bytes", defaultValue = "16384") int batchBytes) {
        Properties p = KafkaClientSettings.recordProducer(kafkaConfig, "katmesh-reward-outcomes");
        p.put(ProducerConfig.LINGER_MS_CONFIG, Integer.toString(lingerMs));
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(batchBytes));
        this.producer = new KafkaProducer<>(p);
    }

    @Override
    public CompletionStage<Void> send(ProducerRecord<String, byte[]> record) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            producer.send(record, (metadata, e) -> {
                if (e == null) {
                    done.complete(null);
                } else {
                    done.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) { // refused before it was sent (too large, serialiser, closed)
            done.completeExceptionally(e);
        }
        return done;
    }

    void onStop(@Observes ShutdownEvent stopped) {
        producer.close(Duration.ofSeconds(10)); // what was handed over is sent before the process ends
    }
}
