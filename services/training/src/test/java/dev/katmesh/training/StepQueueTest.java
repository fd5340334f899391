package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepQueueTest {

    record Sample(String id, double reward, long version) {}

    private final List<String> drops = new ArrayList<>();

    private StepQueue<Sample> queue(int groupsPerStep, StalenessGate gate) {
        return new StepQueue<>(
                groupsPerStep,
                gate,
                Sample::reward,
                Sample::version,
                (g, reason) -> g.forEach(s -> drops.add(s.id() + ":" + reason)));
    }

    private static List<Sample> group(String id, long version, double... rewards) {
        List<Sample> g = new ArrayList<>();
        for (int i = 0; i < rewards.length; i++) {
            g.add(new Sample(id + i, rewards[i], version));
        }
        return g;
    }

    @Test
    void aStepWaitsForGroupsWithRewardVarianceAndDropsTheOthersOnArrival() {
        StepQueue<Sample> q = queue(2, new StalenessGate(2));
        q.offer(group("a", 0, 1, 0, 1, 0));
        q.offer(group("b", 0, 1, 1, 1, 1)); // all equal: no advantage anywhere
        q.offer(group("c", 0, 0.5)); // one sample: nothing to compare with
        assertFalse(q.ready(), "two zero-signal groups must not complete a step of two");
        assertEquals(
                List.of(
                        "b0:zero_variance",
                        "b1:zero_variance",
                        "b2:zero_variance",
                        "b3:zero_variance",
                        "c0:group_too_small"),
                drops);
        q.offer(group("d", 0, -0.5, 0.2, 0.2, 0.2));
        assertTrue(q.ready());
        List<List<Sample>> step = q.take();
        assertEquals(
                List.of("a0", "d0"),
                step.stream().map(g -> g.get(0).id()).toList(),
                "a step takes the oldest groups first");
        assertEquals(0, q.size());
    }

    @Test
    void theStalenessGateIsAppliedAgainToQueuedGroupsWhenTheVersionMovesOn() {
        StepQueue<Sample> q = queue(2, new StalenessGate(0));
        q.offer(group("old", 3, 1, 0));
        q.dropStale(3);
        assertEquals(1, q.size(), "on-policy at version 3: kept");
        q.dropStale(4);
        assertEquals(0, q.size(), "with eta = 0 a group left over from version 3 is stale once version 4 is out");
        assertEquals(List.of("old0:stale", "old1:stale"), drops);

        StepQueue<Sample> lenient = queue(2, new StalenessGate(2));
        lenient.offer(group("x", 3, 1, 0));
        lenient.offer(group("y", -1, 1, 0)); // no known version: never stale
        lenient.dropStale(5);
        assertEquals(2, lenient.size(), "two versions behind is within eta = 2");
        lenient.dropStale(6);
        assertEquals(1, lenient.size());
        assertEquals("y0", lenient.take().get(0).get(0).id());
    }

    @Test
    void supervisedStagesQueueEveryGroupAndTrainEachAsAStep() {
        StepQueue<Sample> q = queue(4, null);
        q.offer(group("s", 0, 0, 0, 0));
        q.offer(group("t", 0, 1));
        q.dropStale(100);
        assertTrue(q.ready(), "without a gate one group is a step");
        assertEquals(1, q.take().size());
        assertEquals(1, q.size());
        assertTrue(drops.isEmpty(), "nothing is dropped in a supervised stage: " + drops);
    }
}
