package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SlotsTest {

    @Test
    void atMostNRunAndEveryWaiterGetsASlotInTurn() throws Exception {
        Slots slots = new Slots(3);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        for (int i = 0; i < 200; i++) {
            slots.acquire()
                    .thenRunAsync(
                            () -> {
                                int now = running.incrementAndGet();
                                peak.accumulateAndGet(now, Math::max);
                                try {
                                    Thread.sleep(1);
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                }
                                running.decrementAndGet();
                                done.incrementAndGet();
                                slots.release();
                            },
                            pool);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (done.get() < 200 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        pool.shutdown();
        assertEquals(200, done.get(), "every record got a slot");
        assertTrue(peak.get() <= 3, "never more than 3 at once, saw " + peak.get());
        assertEquals(0, slots.inUse(), "all slots returned");
    }

    @Test
    void aFullPoolMakesTheCallerWait() {
        Slots slots = new Slots(1);
        assertTrue(slots.acquire().isDone());
        CompletableFuture<Void> second = slots.acquire();
        assertFalse(second.isDone(), "the second waits while the only slot is taken");
        slots.release();
        assertTrue(second.isDone(), "and gets it when it is given back");
    }
}
