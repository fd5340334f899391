package dev.katmesh.launcher.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LineageAuditTest {

    private static LineageAudit.Raw raw(int p, long o, String id) {
        return new LineageAudit.Raw("raw", p, o, id);
    }

    private static LineageAudit.Scored scored(int p, long o, String id) {
        return new LineageAudit.Scored(p, o, id);
    }

    @Test
    void aCleanRunAccountsForEveryId() {
        List<LineageAudit.Raw> raw =
                List.of(raw(0, 0, "a"), raw(0, 1, "b"), raw(1, 0, null), raw(1, 1, "c"), raw(1, 2, "a"));
        List<LineageAudit.Scored> scored = List.of(scored(0, 0, "a"), scored(0, 1, "b"), scored(1, 0, "c"));
        List<LineageAudit.DeadLetter> dlq = List.of(new LineageAudit.DeadLetter("raw", 1, 0, "MALFORMED_JSON"));
        List<LineageAudit.LedgerEntry> ledger = List.of(
                new LineageAudit.LedgerEntry(1, List.of("a"), Map.of()),
                new LineageAudit.LedgerEntry(2, List.of("c"), Map.of("zero_variance", List.of("b"))));
        ObjectNode r = LineageAudit.reconcile(
                raw, scored, dlq, ledger, Map.of("raw-0", 2L, "raw-1", 3L), Map.of(0, 2L, 1, 1L));
        assertEquals(5, r.path("published").asInt());
        assertEquals(3, r.path("scored").asInt());
        assertEquals(1, r.path("dead_lettered").asInt());
        assertEquals(2, r.path("trained").asInt());
        assertEquals(1, r.path("dropped").asInt());
        assertEquals(0, r.path("lost").size(), r.toString());
        assertEquals(0, r.path("trained_twice").size(), r.toString());
        assertEquals(1, r.path("dead_letter_reasons").path("MALFORMED_JSON").asInt());
        assertTrue(
                r.path("ok").asBoolean(),
                "the second copy of 'a' was deduplicated, the unreadable record dead-lettered: " + r);
    }

    @Test
    void consumedButUnaccountedIdsAreLostAndUnconsumedOnesArePending() {
        List<LineageAudit.Raw> raw = List.of(raw(0, 0, "a"), raw(0, 1, "b"), raw(0, 2, "c"), raw(0, 3, "d"));
        List<LineageAudit.Scored> scored = List.of(scored(0, 0, "a"), scored(0, 1, "c"));
        // The reward committed past b and c (c was scored, b vanished); d is not consumed yet.
        // The learner committed past a (nothing trained it) but not c.
        ObjectNode r = LineageAudit.reconcile(
                raw,
                scored,
                List.of(),
                List.of(new LineageAudit.LedgerEntry(1, List.of(), Map.of())),
                Map.of("raw-0", 3L),
                Map.of(0, 1L));
        assertEquals(
                List.of("a", "b"),
                List.of(r.path("lost").get(0).asText(), r.path("lost").get(1).asText()),
                r.toString());
        assertEquals(1, r.path("pending").path("reward").asInt(), "d is beyond the reward's committed offset");
        assertEquals(1, r.path("pending").path("learner").asInt(), "c is beyond the learner's committed offset");
        assertFalse(r.path("ok").asBoolean());
    }

    @Test
    void twiceIsCaughtOnBothSides() {
        List<LineageAudit.Raw> raw = List.of(raw(0, 0, "a"), raw(0, 1, "b"));
        List<LineageAudit.Scored> scored = List.of(scored(0, 0, "a"), scored(0, 1, "b"), scored(0, 2, "b"));
        List<LineageAudit.LedgerEntry> ledger = List.of(
                new LineageAudit.LedgerEntry(1, List.of("a", "b"), Map.of()),
                new LineageAudit.LedgerEntry(2, List.of("a"), Map.of()));
        ObjectNode r = LineageAudit.reconcile(raw, scored, List.of(), ledger, Map.of("raw-0", 2L), Map.of(0, 3L));
        assertEquals("a", r.path("trained_twice").get(0).asText(), r.toString());
        assertEquals("b", r.path("scored_twice").get(0).asText(), r.toString());
        assertFalse(r.path("ok").asBoolean());
    }

    @Test
    void aReplayTrainsAgainWhatWasTrainedOnlineButEachIdOnceWithinTheReplay() {
        List<LineageAudit.Raw> raw = List.of(raw(0, 0, "a"), raw(0, 1, "b"));
        List<LineageAudit.Scored> scored = List.of(scored(0, 0, "a"), scored(0, 1, "b"));
        List<LineageAudit.LedgerEntry> once = List.of(
                new LineageAudit.LedgerEntry(1, List.of("a", "b"), Map.of()),
                new LineageAudit.LedgerEntry(2, List.of("a"), Map.of(), "replay-week"),
                new LineageAudit.LedgerEntry(3, List.of("b"), Map.of(), "replay-week"),
                new LineageAudit.LedgerEntry(4, List.of("a", "b"), Map.of(), "replay-again"));
        ObjectNode r = LineageAudit.reconcile(raw, scored, List.of(), once, Map.of("raw-0", 2L), Map.of(0, 2L));
        assertEquals(0, r.path("trained_twice").size(), "online once, each replay once: " + r);
        assertEquals(2, r.path("trained").asInt());
        assertTrue(r.path("ok").asBoolean(), r.toString());
        List<LineageAudit.LedgerEntry> twice = List.of(
                new LineageAudit.LedgerEntry(2, List.of("a"), Map.of(), "replay-week"),
                new LineageAudit.LedgerEntry(3, List.of("a", "b"), Map.of(), "replay-week"));
        r = LineageAudit.reconcile(raw, scored, List.of(), twice, Map.of("raw-0", 2L), Map.of(0, 2L));
        assertEquals("a (replay replay-week)", r.path("trained_twice").get(0).asText(), r.toString());
        assertEquals(0, r.path("lost").size(), "replayed ids count as trained: " + r);
    }

    @Test
    void aHeldScoreIsPendingAndOneRevisionPerIdIsNotScoredTwice() {
        List<LineageAudit.Raw> raw = List.of(raw(0, 0, "a"), raw(0, 1, "b"), raw(0, 2, "c"));
        List<LineageAudit.Scored> scored =
                List.of(scored(0, 0, "a"), new LineageAudit.Scored(0, 1, "a", 1), scored(0, 2, "b"));
        List<LineageAudit.LedgerEntry> ledger = List.of(
                new LineageAudit.LedgerEntry(1, List.of("a", "b"), Map.of()),
                new LineageAudit.LedgerEntry(2, List.of(), Map.of("already_trained", List.of("a"))));
        ObjectNode r =
                LineageAudit.reconcile(raw, scored, List.of(), ledger, Map.of("raw-0", 3L), Map.of(0, 3L), Set.of("c"));
        assertTrue(r.path("ok").asBoolean(), r.toString());
        assertEquals(1, r.path("pending").path("feedback_window").asInt(), "c waits for its feedback: " + r);
        assertEquals(1, r.path("revised").asInt());
        ObjectNode notHeld = LineageAudit.reconcile(raw, scored, List.of(), ledger, Map.of("raw-0", 3L), Map.of(0, 3L));
        assertEquals("c", notHeld.path("lost").get(0).asText(), "consumed, neither scored nor held: " + notHeld);
        ObjectNode twice = LineageAudit.reconcile(
                raw,
                List.of(
                        scored(0, 0, "a"),
                        new LineageAudit.Scored(0, 1, "a", 1),
                        new LineageAudit.Scored(0, 2, "a", 1)),
                List.of(),
                null,
                Map.of("raw-0", 1L),
                Map.of(0, 3L));
        assertEquals("a (revised)", twice.path("scored_twice").get(0).asText(), twice.toString());
    }

    @Test
    void withoutALedgerOnlyTheRewardIsAudited() {
        ObjectNode r = LineageAudit.reconcile(
                List.of(raw(0, 0, "a")),
                List.of(scored(0, 0, "a")),
                List.of(),
                null,
                Map.of("raw-0", 1L),
                Map.of(0, 1L));
        assertTrue(r.path("ok").asBoolean(), r.toString());
        assertTrue(r.path("pending").path("learner").isNull());
    }

    @Test
    void theSamePositionOnTheTwoTrajectoryTopicsIsTwoRecords() {
        List<LineageAudit.Raw> raw = List.of(raw(0, 0, "a"), new LineageAudit.Raw("rollout", 0, 0, null));
        // the rollout record at 0@0 was dead-lettered; the raw one at the same position was scored
        ObjectNode r = LineageAudit.reconcile(
                raw,
                List.of(scored(0, 0, "a")),
                List.of(new LineageAudit.DeadLetter("rollout", 0, 0, "EMPTY")),
                null,
                Map.of("raw-0", 1L, "rollout-0", 1L),
                Map.of(0, 1L));
        assertTrue(r.path("ok").asBoolean(), r.toString());
        ObjectNode missing = LineageAudit.reconcile(
                raw, List.of(scored(0, 0, "a")), List.of(), null, Map.of("raw-0", 1L, "rollout-0", 1L), Map.of(0, 1L));
        assertEquals(
                1,
                missing.path("lost").size(),
                "a consumed rollout record with no outcome is lost, not covered by its raw twin: " + missing);
    }

    @Test
    void theLedgerParserToleratesOnlyATornLastLine() {
        String good = "{\"version\":1,\"trained\":[\"a\"],\"dropped\":{\"stale\":[\"b\"]}}\n";
        List<LineageAudit.LedgerEntry> e = LineageAudit.parseLedger(good + "{\"version\":2,\"tra");
        assertEquals(1, e.size());
        assertEquals(List.of("b"), e.get(0).dropped().get("stale"));
        assertThrows(IllegalArgumentException.class, () -> LineageAudit.parseLedger("{oops\n" + good));
    }
}
