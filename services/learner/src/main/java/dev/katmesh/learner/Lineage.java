package dev.katmesh.learner;

import dev.katmesh.proto.wire.DropReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * Which trajectory ids were trained and dropped since the last published version (what its ledger entry says),
 * and every id trained so far: a record trained into a checkpoint and read again (its offset was behind one still
 * held) is skipped as already trained.
 */
final class Lineage {

    private final Set<String> everTrained;
    private List<String> trained = new ArrayList<>();
    private Map<String, List<String>> dropped = new TreeMap<>();
    private String replay;
    private Supplier<Map<String, long[]>> replayed;

    /** @param everTrained the ids the ledger says were trained (a set the lineage adds to) */
    Lineage(Set<String> everTrained) {
        this.everTrained = everTrained;
    }

    boolean alreadyTrained(String id) {
        return everTrained.contains(id);
    }

    void trained(String id) {
        trained.add(id);
        everTrained.add(id);
    }

    void dropped(DropReason reason, String id) {
        dropped.computeIfAbsent(reason.tag(), k -> new ArrayList<>()).add(id);
    }

    /**
     * While a replay stage runs ({@code stage} non-null): its versions' entries name it and the offsets each covers
     * ({@code covered}, asked once per version).
     */
    void replay(String stage, Supplier<Map<String, long[]>> covered) {
        this.replay = stage;
        this.replayed = covered;
    }

    /** The ledger entry of a new version, and a fresh span for the next one. */
    TrainingLedger.Entry close(long version, long step, String stage) {
        TrainingLedger.Entry e = new TrainingLedger.Entry(
                version,
                step,
                stage,
                trained,
                dropped,
                System.currentTimeMillis(),
                replay,
                replay == null ? null : replayed.get());
        trained = new ArrayList<>();
        dropped = new TreeMap<>();
        return e;
    }
}
