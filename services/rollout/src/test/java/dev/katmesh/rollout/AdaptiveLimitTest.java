package dev.katmesh.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Episode concurrency follows inference's back-pressure: halves when refused, grows back one by one. */
class AdaptiveLimitTest {

    @Test
    void backPressureHalvesTheLimitAndNormalCallsGrowItBackWithinBounds() {
        AdaptiveLimit limit = new AdaptiveLimit(1, 8, 8);
        limit.congested();
        assertEquals(4, limit.limit());
        limit.congested();
        limit.congested();
        limit.congested();
        assertEquals(1, limit.limit(), "never below the minimum");
        for (int i = 0; i < 100; i++) {
            limit.ok();
        }
        assertEquals(8, limit.limit(), "grows back to the maximum, and no further");
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveLimit(0, 4, 2));
    }

    @Test
    void episodesBeyondTheLimitWaitForASlot() throws Exception {
        AdaptiveLimit limit = new AdaptiveLimit(1, 4, 1);
        limit.acquire();
        CountDownLatch started = new CountDownLatch(1);
        Thread second = new Thread(() -> {
            try {
                limit.acquire();
                started.countDown();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        second.start();
        assertTrue(!started.await(200, TimeUnit.MILLISECONDS), "the second episode waits while the only slot is taken");
        limit.release();
        assertTrue(started.await(5, TimeUnit.SECONDS), "and starts when it is given back");
        assertEquals(1, limit.running());
    }
}
