package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Against values computed by hand from the formulas (and matching Newcombe 1998, table II). */
class PassRateTest {

    @Test
    void wilsonIntervals() {
        // 0 of 10: centre (z²/2n) / (1 + z²/n) = 0.19207 / 1.38415 = 0.13877, half the same → [0, 0.27753]
        assertArrayEquals(new double[] {0, 0.27753}, new PassRate(0, 10).interval(), 1e-4);
        // 81 of 263 (Newcombe's example): 0.2553–0.3662
        assertArrayEquals(new double[] {0.2553, 0.3662}, new PassRate(81, 263).interval(), 1e-4);
        assertArrayEquals(
                new double[] {1 - 0.27753, 1}, new PassRate(10, 10).interval(), 1e-4, "10 of 10 mirrors 0 of 10");
    }

    @Test
    void newcombesDifference() {
        // Newcombe 1998, example (a): 56/70 − 48/80 = 0.2, method 10: 0.0524 to 0.3339
        assertArrayEquals(new double[] {0.2, 0.0524, 0.3339}, new PassRate(56, 70).minus(new PassRate(48, 80)), 1e-4);
        // example (e): 9/10 − 3/10: 0.1705 to 0.8090
        assertArrayEquals(new double[] {0.6, 0.1705, 0.8090}, new PassRate(9, 10).minus(new PassRate(3, 10)), 1e-4);
    }

    @Test
    void aboveBeyondIntervals() {
        assertTrue(new PassRate(20, 60).aboveBeyondIntervals(new PassRate(0, 60)), "33% vs 0%");
        assertFalse(
                new PassRate(4, 60).aboveBeyondIntervals(new PassRate(0, 60)), "6.7% (1.8–16%) vs 0% (0–6%) overlap");
    }
}
