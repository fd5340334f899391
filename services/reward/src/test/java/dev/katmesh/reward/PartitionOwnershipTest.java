package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class PartitionOwnershipTest {

    private static final TopicPartition P0 = new TopicPartition("katmesh.trajectories.raw", 0);
    private static final TopicPartition P1 = new TopicPartition("katmesh.trajectories.raw", 1);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private PartitionOwnership ownership(Duration drain) {
        return new PartitionOwnership(registry, drain);
    }

    @Test
    void publishesOnlyWhatItOwns() {
        PartitionOwnership o = ownership(Duration.ofSeconds(1));
        assertFalse(o.startPublishing(P0), "nothing is owned before an assignment");
        o.assigned(List.of(P0));
        assertTrue(o.startPublishing(P0), "an owned partition publishes");
        o.published(P0);
        assertFalse(o.startPublishing(P1), "another partition does not");
        assertTrue(o.startPublishing(null), "a record of no partition (in-memory channels) always publishes");
        assertEquals(2.0, registry.counter("katmesh.reward.handed.over").count(), "refusals are counted");
    }

    @Test
    void revocationWaitsForPublishingOutcomesAndRefusesNewOnes() throws Exception {
        PartitionOwnership o = ownership(Duration.ofSeconds(30));
        o.assigned(List.of(P0, P1));
        assertTrue(o.startPublishing(P0));
        CompletableFuture<Void> revoked = CompletableFuture.runAsync(() -> {
            try {
                o.revoked(List.of(P0));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            revoked.get(300, TimeUnit.MILLISECONDS);
            throw new AssertionError("revocation returned while an outcome of the partition was being published");
        } catch (TimeoutException expected) {
            // still draining
        }
        assertFalse(o.startPublishing(P0), "no outcome of a revoked partition starts while it drains");
        assertTrue(o.startPublishing(P1), "the partitions kept go on publishing");
        o.published(P0);
        revoked.get(5, TimeUnit.SECONDS);
        o.published(P1);
    }

    @Test
    void revocationGivesUpAfterItsDrainTime() throws Exception {
        PartitionOwnership o = ownership(Duration.ofMillis(200));
        o.assigned(List.of(P0));
        assertTrue(o.startPublishing(P0));
        long t0 = System.nanoTime();
        o.revoked(List.of(P0));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 150 && ms < 5_000, "bounded by katmesh.reward.revoke-drain, took " + ms + " ms");
    }

    @Test
    void lostPartitionsStopAtOnce() throws Exception {
        PartitionOwnership o = ownership(Duration.ofSeconds(30));
        o.assigned(List.of(P0));
        assertTrue(o.startPublishing(P0));
        CompletableFuture.runAsync(() -> o.lost(List.of(P0))).get(2, TimeUnit.SECONDS);
        assertFalse(o.startPublishing(P0), "a lost partition is not owned");
    }

    /** A record received before its partition left and came back may have been scored by the other owner meanwhile. */
    @Test
    void aRecordReceivedBeforeThePartitionLeftAndCameBackIsNotPublished() throws Exception {
        PartitionOwnership o = ownership(Duration.ofSeconds(1));
        o.assigned(List.of(P0));
        long before = o.generation(P0);
        o.revoked(List.of(P0));
        o.assigned(List.of(P0)); // back here (an eager rebalance revokes everything, then assigns)
        assertFalse(o.startPublishing(P0, before), "stale: its copy delivered again decides");
        assertTrue(o.startPublishing(P0, o.generation(P0)), "a record received under this assignment publishes");
        o.published(P0);
    }
}
