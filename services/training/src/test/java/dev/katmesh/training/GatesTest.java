package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class GatesTest {

    @Test
    void stalenessGateAcceptsUpToEtaVersionsBehind() {
        StalenessGate onPolicy = new StalenessGate(0);
        assertTrue(onPolicy.decide(5, 5).accepted());
        assertFalse(onPolicy.decide(4, 5).accepted());
        StalenessGate two = new StalenessGate(2);
        assertTrue(two.decide(3, 5).accepted());
        assertEquals(2, two.decide(3, 5).staleness());
        assertFalse(two.decide(2, 5).accepted());
        assertTrue(two.decide(-1, 99).accepted(), "no generated tokens with a version: nothing to bound");
    }

    @Test
    void groupsReleaseWhenCompleteOrTimedOut() {
        AtomicLong now = new AtomicLong(1000);
        GroupAssembler<String> a = new GroupAssembler<>(3, 500, now::get);
        assertTrue(a.add("g1", "a").isEmpty());
        assertTrue(a.add("g2", "x").isEmpty());
        assertTrue(a.add("g1", "b").isEmpty());
        List<GroupAssembler.Ready<String>> done = a.add("g1", "c");
        assertEquals(1, done.size());
        assertEquals(List.of("a", "b", "c"), done.get(0).members());
        assertFalse(done.get(0).timedOut());
        assertTrue(a.expired().isEmpty());
        assertEquals(List.of("x"), a.waiting());
        now.addAndGet(500);
        List<GroupAssembler.Ready<String>> late = a.expired();
        assertEquals(1, late.size());
        assertTrue(late.get(0).timedOut());
        assertTrue(a.waiting().isEmpty());
    }
}
