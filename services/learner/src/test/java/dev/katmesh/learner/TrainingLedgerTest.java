package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingLedgerTest {

    private static TrainingLedger.Entry entry(long v, List<String> trained) {
        return new TrainingLedger.Entry(v, v * 4, "rft", trained, Map.of("zero_variance", List.of("z" + v)), 1000 + v);
    }

    @Test
    void entriesSurviveAReopenAndNameEveryTrainedId(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ledger.jsonl");
        TrainingLedger ledger = new TrainingLedger(file);
        ledger.append(entry(1, List.of("a", "b")));
        ledger.append(entry(2, List.of("c")));
        TrainingLedger reopened = new TrainingLedger(file);
        assertEquals(2, reopened.lastVersion());
        assertEquals(Set.of("a", "b", "c"), reopened.trainedIds());
        assertEquals(List.of("z2"), reopened.entries().get(1).dropped().get("zero_variance"));
    }

    @Test
    void aReplaysEntryKeepsItsStageAndTheOffsetsItCovered(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ledger.jsonl");
        TrainingLedger ledger = new TrainingLedger(file);
        ledger.append(entry(1, List.of("a")));
        ledger.append(new TrainingLedger.Entry(
                2, 8, "week", List.of("a"), Map.of(), 1002, "week", Map.of("0", new long[] {10, 14})));
        TrainingLedger.Entry back = new TrainingLedger(file).entries().get(1);
        assertEquals("week", back.replay());
        assertArrayEquals(new long[] {10, 14}, back.replayed().get("0"));
        assertTrue(
                !Files.readString(file).lines().findFirst().orElseThrow().contains("replay"),
                "online entries as before");
        assertEquals(
                Map.of(0, 14L, 3, 2L),
                ReplayStage.resumeAt(
                        Map.of(
                                "katmesh.trajectories.scored-0",
                                99L,
                                "replay:week:0",
                                14L,
                                "replay:week:3",
                                2L,
                                "replay:week-2:0",
                                5L),
                        "week"),
                "a checkpoint's positions of this replay, not of another stage's");
    }

    @Test
    void aTornLastLineIsCutOffSoTheNextAppendStandsOnItsOwnLine(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ledger.jsonl");
        new TrainingLedger(file).append(entry(1, List.of("a")));
        Files.writeString(
                file,
                "{\"version\":2,\"step\":8,\"tra",
                StandardCharsets.UTF_8,
                StandardOpenOption.APPEND); // a crash mid-append
        TrainingLedger ledger = new TrainingLedger(file);
        assertEquals(1, ledger.lastVersion(), "the torn entry is gone");
        ledger.append(entry(2, List.of("b")));
        assertEquals(2, Files.readAllLines(file).size(), Files.readString(file));
        assertEquals(Set.of("a", "b"), new TrainingLedger(file).trainedIds());
    }

    @Test
    void reconcileAppendsOnlyTheCheckpointsEntryTheFileLacks(@TempDir Path dir) throws Exception {
        TrainingLedger ledger = new TrainingLedger(dir.resolve("ledger.jsonl"));
        ledger.append(entry(1, List.of("a")));
        assertFalse(ledger.reconcile(entry(1, List.of("a"))), "already there");
        assertTrue(ledger.reconcile(entry(2, List.of("b"))), "the crash came between checkpoint 2 and its ledger line");
        assertFalse(ledger.reconcile(null));
        assertEquals(
                2, new TrainingLedger(dir.resolve("ledger.jsonl")).entries().size());
    }

    @Test
    void aCheckpointCarriesItsEntry(@TempDir Path dir) throws Exception {
        TrainingLedger.Entry e = entry(3, List.of("x", "y"));
        Files.write(dir.resolve(TrainingLedger.ENTRY_FILE), TrainingLedger.serialize(e));
        assertEquals(e, TrainingLedger.read(dir.resolve(TrainingLedger.ENTRY_FILE)));
        assertEquals(null, TrainingLedger.read(dir.resolve("missing.json")));
    }
}
