package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupAuthorizationException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;

class HeldOffsetsTest {

    static final TopicPartition P0 = new TopicPartition("katmesh.trajectories.scored", 0);
    static final TopicPartition P1 = new TopicPartition("katmesh.trajectories.scored", 1);

    @Test
    void aCheckpointStopsAtTheOldestRecordHeldUntrained() {
        HeldOffsets o = new HeldOffsets();
        for (long i = 0; i < 5; i++) {
            o.read(P0, i);
        }
        o.hold(P0, 2);
        o.hold(P0, 4);
        o.read(P1, 7);
        assertEquals(
                Map.of("katmesh.trajectories.scored-0", 2L, "katmesh.trajectories.scored-1", 8L, "other-3", 9L),
                o.positions(Map.of("other-3", 9L)),
                "held 2 and 4 on partition 0; nothing held on 1; older positions kept");
        o.release(P0, 2);
        assertEquals(4L, o.positions(Map.of()).get("katmesh.trajectories.scored-0"));
        o.release(P0, 4);
        assertEquals(5L, o.positions(Map.of()).get("katmesh.trajectories.scored-0"), "all trained: the next offset");
    }

    @Test
    void positionKeysRoundTripTopicsWithDashes() {
        TopicPartition tp = new TopicPartition("a-b.c", 12);
        assertEquals(tp, HeldOffsets.partition(HeldOffsets.key(tp)));
        assertEquals(3, HeldOffsets.commitable(Map.of("a-b.c-12", 3L)).get(tp).offset());
    }

    @Test
    void resetForgetsWhatAStageHeld() {
        HeldOffsets o = new HeldOffsets();
        o.read(P0, 3);
        o.hold(P0, 3);
        o.reset();
        assertEquals(Map.of(), o.positions(Map.of()));
        assertEquals(Map.of(), o.readPartitions());
    }

    @Test
    void aCommitTheGroupRefusesForNowIsLoggedNotThrownAndTheNextOneCarriesThePositions() {
        for (Supplier<RuntimeException> refusal : List.<Supplier<RuntimeException>>of(
                () -> new RebalanceInProgressException("the group is rebalancing"),
                () -> new CommitFailedException("the generation moved on"),
                () -> new TimeoutException("the coordinator did not answer"))) {
            RefusingConsumer consumer = new RefusingConsumer();
            consumer.refusal = refusal;
            assertFalse(
                    HeldOffsets.commit(consumer, Map.of("katmesh.trajectories.scored-0", 5L)),
                    "a " + refusal.get().getClass().getSimpleName() + " refuses the commit without stopping training");
            consumer.refusal = null;
            assertTrue(HeldOffsets.commit(consumer, Map.of("katmesh.trajectories.scored-0", 7L)));
            assertEquals(
                    new OffsetAndMetadata(7L),
                    consumer.committed(Set.of(P0)).get(P0),
                    "the next checkpoint's commit carries the positions");
        }
    }

    @Test
    void aFatalCommitErrorIsThrown() {
        RefusingConsumer consumer = new RefusingConsumer();
        consumer.refusal = () -> new GroupAuthorizationException("not allowed");
        assertThrows(
                GroupAuthorizationException.class,
                () -> HeldOffsets.commit(consumer, Map.of("katmesh.trajectories.scored-0", 5L)),
                "an authorization failure is not retried silently");
    }

    /** A consumer whose next commit fails with {@code refusal}, as a broker restart or rebalance makes it. */
    private static final class RefusingConsumer extends MockConsumer<String, byte[]> {
        Supplier<RuntimeException> refusal;

        RefusingConsumer() {
            super("earliest");
            assign(List.of(P0));
        }

        @Override
        public synchronized void commitSync(Map<TopicPartition, OffsetAndMetadata> offsets) {
            if (refusal != null) {
                throw refusal.get();
            }
            super.commitSync(offsets);
        }
    }
}
