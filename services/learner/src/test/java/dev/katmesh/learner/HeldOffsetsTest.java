package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.apache.kafka.common.TopicPartition;
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
}
