package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LearningRateScheduleTest {

    @Test
    void warmsUpLinearlyThenDecaysToTheFloorAtTheLastStep() {
        LearningRateSchedule cosine = new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 4, 0.1);
        assertEquals(0.2, cosine.factor(0, 105), 1e-12, "warm-up starts at 1/(warmup+1)");
        assertEquals(0.8, cosine.factor(3, 105), 1e-12);
        assertEquals(1.0, cosine.factor(4, 105), 1e-12, "the peak right after the warm-up");
        assertEquals(0.55, cosine.factor(54, 105), 1e-12, "half-way: the middle of the range");
        assertEquals(0.1, cosine.factor(104, 105), 1e-12, "the stage's last step trains at the floor");
        assertEquals(
                0.1, cosine.factor(500, 105), 1e-12, "past the end (a resumed, extended stage) it stays at the floor");
        double previous = 2;
        for (int step = 4; step < 105; step++) {
            double f = cosine.factor(step, 105);
            assertTrue(f <= previous, "monotone after the warm-up, step " + step);
            previous = f;
        }
        LearningRateSchedule linear = new LearningRateSchedule(LearningRateSchedule.Kind.LINEAR, 0, 0);
        assertEquals(1.0, linear.factor(0, 11), 1e-12);
        assertEquals(0.5, linear.factor(5, 11), 1e-12);
        assertEquals(0.0, linear.factor(10, 11), 1e-12);
    }

    @Test
    void constantKeepsTheRateAndBadParametersAreRefused() {
        assertEquals(1.0, LearningRateSchedule.CONSTANT.factor(0, 10));
        assertEquals(1.0, LearningRateSchedule.CONSTANT.factor(9, 10));
        assertEquals(
                1.0,
                new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 0, 0.1).factor(0, 1),
                1e-12,
                "a one-step stage trains at the peak, not at the floor");
        assertThrows(
                IllegalArgumentException.class,
                () -> new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, -1, 0.1));
        assertThrows(
                IllegalArgumentException.class,
                () -> new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 0, 1.5));
        assertThrows(
                IllegalArgumentException.class,
                () -> new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 0, Double.NaN));
    }
}
