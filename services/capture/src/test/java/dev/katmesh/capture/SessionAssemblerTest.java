package dev.katmesh.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SessionEnd;
import dev.katmesh.proto.v1.Trajectory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class SessionAssemblerTest {

    static final Duration ORPHAN = Duration.ofSeconds(100);

    /** A log record: its event, partition and timestamp (the handle is its index in the log). */
    record Rec(CaptureEvent event, int partition, long ts) {}

    final SessionAssembler<Integer> assembler = new SessionAssembler<>(ORPHAN, Duration.ofSeconds(5), 100);

    static CaptureEvent request(String tree, String id, String parent, long at) {
        return CaptureEvent.newBuilder()
                .setTreeId(tree)
                .setAgentId("agent")
                .setSessionId(tree.substring(0, 1))
                .setAtMs(at)
                // tokens of its own: no two requests are twins
                .setRequest(CaptureTreeTest.request(id, parent, new int[] {id.hashCode()}, new int[] {2}, 1))
                .build();
    }

    static CaptureEvent end(String tree, int requests, long at) {
        return CaptureEvent.newBuilder()
                .setTreeId(tree)
                .setAgentId("agent")
                .setSessionId(tree.substring(0, 1))
                .setAtMs(at)
                .setEnd(SessionEnd.newBuilder()
                        .setReason("ended")
                        .setRequests(requests)
                        .setOutcome(Outcome.newBuilder().setSubmitted(true)))
                .build();
    }

    @Test
    void aTreeIsHeldUntilItsEndThenHandedOutWithAllItsRecords() {
        assertTrue(assembler.accept(request("a1", "x", "", 10), 0, 10, 10, 0).isEmpty());
        assertTrue(assembler.accept(request("a1", "y", "x", 20), 0, 20, 20, 1).isEmpty());
        assertEquals(1, assembler.open());
        List<SessionAssembler.Closed<Integer>> closed = assembler.accept(end("a1", 2, 30), 0, 30, 30, 2);
        assertEquals(1, closed.size());
        SessionAssembler.Closed<Integer> c = closed.get(0);
        assertEquals("ended", c.why());
        assertEquals(List.of(0, 1, 2), c.handles(), "every record of the tree, to acknowledge after publishing");
        Trajectory t = c.trajectories().get(0);
        assertEquals("a1", t.getTrajectoryId());
        assertEquals("a", t.getSessionId());
        assertEquals(List.of("x", "y"), t.getCapturedRequestIdsList());
        assertTrue(t.getOutcome().getSubmitted(), "the end's outcome");
        assertEquals("ended", t.getMetadataOrThrow("closed_by"));
        assertEquals(0, c.missing());
        assertEquals(0, assembler.open());

        List<SessionAssembler.Closed<Integer>> late = assembler.accept(request("a1", "z", "y", 40), 0, 40, 40, 3);
        assertEquals("after_end", late.get(0).why(), "a request finishing after its tree was closed");
        assertEquals(List.of(3), late.get(0).handles());
        assertTrue(late.get(0).trajectories().isEmpty());
    }

    @Test
    void anEndNamingMoreRequestsThanTheLogHoldsCountsTheMissing() {
        assembler.accept(request("a1", "x", "", 10), 0, 10, 10, 0);
        assertEquals(2, assembler.accept(end("a1", 3, 30), 0, 30, 30, 1).get(0).missing());
        assertEquals(
                "orphan",
                assembler
                        .accept(request("b1", "q", "unknown", 50), 0, 50, 50, 2)
                        .get(0)
                        .why());
        assertEquals(0, assembler.open(), "a record that cannot join leaves no tree behind");
    }

    @Test
    void anOrphanClosesWhenItsPartitionsLogMovesPastItOrTheClockOnceThePartitionIsQuiet() {
        assembler.accept(request("a1", "x", "", 1_000), 0, 1_000, 1_000, 0);
        assembler.accept(request("b1", "y", "", 1_000), 1, 1_000, 1_000, 1);
        // Another partition's later records do not move this one's log.
        assembler.accept(request("c1", "z", "", 200_000), 2, 200_000, 1_500, 2);
        assertTrue(assembler.sweep(1_500).isEmpty(), "neither log has moved 100 s past, nor the clock");
        // Partition 0's log moves 100 s past a1's last record: orphaned, whatever the clock says.
        assembler.accept(request("d1", "w", "", 101_000), 0, 101_000, 1_600, 3);
        List<SessionAssembler.Closed<Integer>> closed = assembler.sweep(1_600);
        assertEquals(
                List.of("a1"),
                closed.stream().map(SessionAssembler.Closed::treeId).toList());
        assertEquals("orphaned", closed.get(0).why());
        // b1 (partition 1): the clock passes 100 s after its record, but partition 1 was just read — not yet.
        assembler.accept(request("b1", "y2", "y", 2_000), 1, 2_000, 150_000, 4);
        assertTrue(assembler.sweep(150_000).stream().noneMatch(c -> c.treeId().equals("b1")), "partition 1 is busy");
        List<SessionAssembler.Closed<Integer>> quiet = assembler.sweep(160_000);
        assertTrue(
                quiet.stream()
                        .anyMatch(c -> c.treeId().equals("b1") && c.handles().equals(List.of(1, 4))),
                "quiet for 10 s and 158 s past its last record: " + quiet);
    }

    @Test
    void aPartitionThatMovesAwayTakesItsOpenTreesAndTheFullestIdleTreeIsEvictedPastTheLimit() {
        assembler.accept(request("a1", "x", "", 10), 0, 10, 10, 0);
        assembler.accept(request("b1", "y", "", 10), 1, 10, 10, 1);
        assembler.revoke(0);
        assertEquals(1, assembler.open());
        SessionAssembler<Integer> small = new SessionAssembler<>(ORPHAN, Duration.ofSeconds(5), 2);
        small.accept(request("a1", "x", "", 10), 0, 10, 10, 0);
        small.accept(request("b1", "y", "", 20), 0, 20, 20, 1);
        List<SessionAssembler.Closed<Integer>> evicted = small.accept(request("c1", "z", "", 30), 0, 30, 30, 2);
        assertEquals("a1", evicted.get(0).treeId(), "the tree idle longest");
        assertEquals("evicted", evicted.get(0).why());
        assertEquals(2, small.open());
    }

    /**
     * A reader that restarts (or takes over a partition) re-reads from its committed offset, which is never past an
     * open tree's first record, and publishes what it closes under the same ids with the same content.
     */
    @Test
    void aReaderRestartingAtTheCommittedOffsetRebuildsTheSameTrajectories() {
        List<Rec> log = new ArrayList<>();
        log.add(new Rec(request("a1", "x", "", 0), 0, 0));
        log.add(new Rec(request("b1", "p", "", 10), 0, 10));
        log.add(new Rec(request("a1", "x2", "x", 20), 0, 20));
        log.add(new Rec(request("b1", "p2", "p", 30), 0, 30));
        log.add(new Rec(end("a1", 2, 40), 0, 40));
        log.add(new Rec(request("c1", "q", "", 50), 0, 50));
        log.add(new Rec(request("b1", "p3", "p", 60), 0, 60)); // a retry of b1's second turn
        log.add(new Rec(end("b1", 3, 70), 0, 70));
        log.add(new Rec(request("c1", "q2", "q", 300_000), 0, 300_000)); // c1 resumes after a long pause
        log.add(new Rec(end("c1", 2, 300_010), 0, 300_010));
        Map<String, Trajectory> first = run(log, 0, new TreeMap<>());
        // Crash after record 4 (a1 published and acknowledged): b1's first record (1) is the committed offset.
        Map<String, Trajectory> again = run(log, 1, new TreeMap<>());
        assertTrue(first.keySet().containsAll(again.keySet()), again.keySet() + " within " + first.keySet());
        again.forEach((id, t) -> assertEquals(first.get(id), t, id + " rebuilt the same"));
        assertTrue(
                again.containsKey("b1.1") && again.containsKey("c1"),
                again.keySet().toString());
    }

    private static Map<String, Trajectory> run(List<Rec> log, int from, Map<String, Trajectory> out) {
        SessionAssembler<Integer> a = new SessionAssembler<>(ORPHAN, Duration.ofSeconds(5), 100);
        for (int i = from; i < log.size(); i++) {
            Rec r = log.get(i);
            // Read fast (the clock barely moves), so only the log's own timestamps may close a tree.
            for (SessionAssembler.Closed<Integer> c : a.accept(r.event(), r.partition(), r.ts(), 1_000 + i, i)) {
                c.trajectories().forEach(t -> out.put(t.getTrajectoryId(), t));
            }
            for (SessionAssembler.Closed<Integer> c : a.sweep(1_000 + i)) {
                c.trajectories().forEach(t -> out.put(t.getTrajectoryId(), t));
            }
        }
        return out;
    }
}
