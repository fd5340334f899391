package dev.katmesh.reward;

import io.smallrye.reactive.messaging.kafka.KafkaRecord;
import io.smallrye.reactive.messaging.kafka.KafkaRecordBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.reactive.messaging.Message;

/**
 * The records of one poll of the raw topics (the channel consumes in batches: one message a poll, not one a
 * record), each handed out as a message of its own whose acknowledgement counts towards its partition's.
 *
 * <p>DESIGN. In batch mode the connector registers only the last record of each partition of a batch with its
 * commit strategy, so only that record may be acknowledged, and only once every record of the same partition in
 * the batch is decided (scored, dead-lettered, or a duplicate): acknowledged sooner, the commit would pass records
 * still being scored, and a crash would lose them. A record that is never decided (its partition moved to another
 * instance, or its scoring was interrupted) holds its partition's acknowledgement back, so the group delivers it
 * again. Negative acknowledgements are not forwarded: the reward writes its own dead letters ({@link OutcomeSink}).
 */
final class RawBatch {

    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private RawBatch() {}

    /** The batch's records, in the order polled, each acknowledged as described above. */
    static List<Message<byte[]>> records(Message<List<byte[]>> batch) {
        List<Message<byte[]>> out = new ArrayList<>();
        if (batch instanceof KafkaRecordBatch<?, ?> kafka) {
            Map<TopicPartition, AtomicInteger> undecided = new HashMap<>();
            for (KafkaRecord<?, ?> r : kafka.getRecords()) {
                undecided
                        .computeIfAbsent(partition(r), tp -> new AtomicInteger())
                        .incrementAndGet();
            }
            Map<TopicPartition, ? extends KafkaRecord<?, ?>> last = kafka.getLatestOffsetRecords();
            for (KafkaRecord<?, ?> r : kafka.getRecords()) {
                TopicPartition tp = partition(r);
                out.add(counted(r, (byte[]) r.getPayload(), () -> {
                    if (undecided.get(tp).decrementAndGet() == 0) {
                        last.get(tp).ack();
                    }
                }));
            }
            return out;
        }
        // Not from Kafka (the bean tests' in-memory channel): the batch is acknowledged once all of it is decided.
        List<byte[]> payloads = batch.getPayload();
        AtomicInteger undecided = new AtomicInteger(payloads.size());
        for (byte[] p : payloads) {
            out.add(counted(batch, p, () -> {
                if (undecided.decrementAndGet() == 0) {
                    batch.ack();
                }
            }));
        }
        return out;
    }

    /** The record as a message whose first acknowledgement runs {@code decided}; later ones do nothing. */
    private static Message<byte[]> counted(Message<?> record, byte[] payload, Runnable decided) {
        AtomicBoolean acked = new AtomicBoolean();
        return Message.of(
                payload,
                record.getMetadata(),
                () -> {
                    if (acked.compareAndSet(false, true)) {
                        decided.run();
                    }
                    return DONE;
                },
                e -> DONE);
    }

    private static TopicPartition partition(KafkaRecord<?, ?> r) {
        return new TopicPartition(r.getTopic(), r.getPartition());
    }
}
