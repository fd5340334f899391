package dev.katmesh.reward;

import io.quarkus.test.Mock;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.producer.ProducerRecord;

/** The bean tests' sink: every verdict the reward sends, acknowledged at once as a broker would. */
@Mock
@ApplicationScoped
class RecordedOutcomes implements OutcomeSink {

    private final List<ProducerRecord<String, byte[]>> sent = new CopyOnWriteArrayList<>();

    @Override
    public CompletionStage<Void> send(ProducerRecord<String, byte[]> record) {
        sent.add(record);
        return CompletableFuture.completedFuture(null);
    }

    /** What was sent to {@code topic}, in order. */
    List<ProducerRecord<String, byte[]>> on(String topic) {
        return sent.stream().filter(r -> r.topic().equals(topic)).toList();
    }

    void clear() {
        sent.clear();
    }
}
