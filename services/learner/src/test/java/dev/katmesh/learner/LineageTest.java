package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.wire.DropReason;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LineageTest {

    @Test
    void eachVersionsEntryNamesWhatItsSpanTrainedAndDroppedAndTrainedIdsAreRemembered() {
        Set<String> ever = new HashSet<>(Set.of("a"));
        Lineage l = new Lineage(ever);
        assertTrue(l.alreadyTrained("a"), "from the ledger");
        l.trained("b");
        l.dropped(DropReason.STALE, "c");
        l.dropped(DropReason.STALE, "d");
        TrainingLedger.Entry v1 = l.close(1, 4, "rft");
        assertEquals(List.of("b"), v1.trained());
        assertEquals(Map.of("stale", List.of("c", "d")), v1.dropped());
        assertTrue(l.alreadyTrained("b"));
        TrainingLedger.Entry v2 = l.close(2, 5, "rft");
        assertEquals(List.of(), v2.trained(), "a fresh span");
        assertEquals(Map.of(), v2.dropped());
    }
}
