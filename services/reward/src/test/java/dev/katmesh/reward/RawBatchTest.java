package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.kafka.IncomingKafkaRecord;
import io.smallrye.reactive.messaging.kafka.IncomingKafkaRecordBatch;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import io.smallrye.reactive.messaging.kafka.commit.KafkaCommitHandler;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.junit.jupiter.api.Test;

/** A poll's records acknowledge their partition's last record only once all of that partition is decided. */
class RawBatchTest {

    static final String RAW = "katmesh.trajectories.raw";

    /** What the connector's commit strategy was told: "partition@offset" of each acknowledged record, in order. */
    final List<String> committed = new ArrayList<>();

    final KafkaCommitHandler commits = new KafkaCommitHandler() {
        @Override
        public <K, V> Uni<Void> handle(IncomingKafkaRecord<K, V> record) {
            committed.add(record.getPartition() + "@" + record.getOffset());
            return Uni.createFrom().voidItem();
        }
    };

    @Test
    void aPartitionIsAcknowledgedAtItsLastRecordOnlyWhenEveryRecordOfItIsDecidedInAnyOrder() {
        // partition 0: offsets 10, 11, 12; partition 1: offsets 7, 8
        List<Message<byte[]>> records = RawBatch.records(batch(Map.of(0, List.of(10L, 11L, 12L), 1, List.of(7L, 8L))));
        assertEquals(5, records.size(), "every record is handed out");
        Map<String, Message<byte[]>> at = new LinkedHashMap<>();
        for (Message<byte[]> r : records) {
            IncomingKafkaRecordMetadata<?, ?> m =
                    r.getMetadata(IncomingKafkaRecordMetadata.class).orElseThrow();
            at.put(m.getPartition() + "@" + m.getOffset(), r);
            assertArrayEquals(
                    ("v" + m.getOffset()).getBytes(StandardCharsets.UTF_8),
                    r.getPayload(),
                    "its own value and position");
        }
        at.get("0@12").ack(); // the last of partition 0 first: 10 and 11 are still being scored
        at.get("1@7").ack();
        assertEquals(List.of(), committed, "nothing may be committed while a record before it is undecided");
        at.get("0@10").ack();
        at.get("0@10").ack(); // acknowledged twice: counted once
        assertEquals(List.of(), committed, "0@11 is still undecided");
        at.get("1@8").ack();
        assertEquals(List.of("1@8"), committed, "partition 1 is decided: its last record is acknowledged");
        at.get("0@11").nack(new IllegalStateException("interrupted"));
        assertEquals(List.of("1@8"), committed, "a negative acknowledgement decides nothing: delivered again");
        at.get("0@11").ack();
        assertEquals(List.of("1@8", "0@12"), committed, "then partition 0, at its last record only");
    }

    @Test
    void aBatchNotFromKafkaIsAcknowledgedWhenAllOfItIsDecided() {
        CompletableFuture<Void> acked = new CompletableFuture<>();
        Message<List<byte[]>> batch = Message.of(List.of(new byte[] {1}, new byte[] {2}))
                .withAck(() -> {
                    acked.complete(null);
                    return CompletableFuture.completedFuture(null);
                });
        List<Message<byte[]>> records = RawBatch.records(batch);
        records.get(1).ack();
        assertEquals(false, acked.isDone(), "one record is still undecided");
        records.get(0).ack();
        assertEquals(true, acked.isDone(), "all decided: the batch is acknowledged");
    }

    private IncomingKafkaRecordBatch<String, byte[]> batch(Map<Integer, List<Long>> offsets) {
        Map<TopicPartition, List<ConsumerRecord<String, byte[]>>> byPartition = new LinkedHashMap<>();
        offsets.forEach((p, os) -> byPartition.put(
                new TopicPartition(RAW, p),
                os.stream()
                        .map(o -> new ConsumerRecord<>(RAW, p, o, "k" + o, ("v" + o).getBytes(StandardCharsets.UTF_8)))
                        .toList()));
        return new IncomingKafkaRecordBatch<>(
                new ConsumerRecords<>(byPartition, Map.of()), "trajectories-raw", 0, commits, null, false, false);
    }
}
