package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.Task;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Waiting for a task holds no thread: the future completes when the task arrives, or empty after the wait. */
class TaskStoreTest {

    @Test
    void aWaiterIsCompletedByTheTasksArrivalOrByTheEndOfTheWait() throws Exception {
        TaskStore store = new TaskStore();
        CompletableFuture<Optional<Task>> early = store.whenKnown("t1", Duration.ofSeconds(30));
        CompletableFuture<Optional<Task>> never = store.whenKnown("t2", Duration.ofMillis(200));
        assertFalse(early.isDone(), "t1 is not known yet");
        assertEquals(2, store.waiting());
        store.onTask(Task.newBuilder().setTaskId("t1").build().toByteArray());
        assertEquals(
                "t1",
                early.get(1, TimeUnit.SECONDS).orElseThrow().getTaskId(),
                "completed by the arrival, long before its wait ends");
        assertTrue(never.get(5, TimeUnit.SECONDS).isEmpty(), "empty once the wait is over");
        assertEquals(0, store.waiting(), "no waiter is kept after it completed");
        assertTrue(store.whenKnown("t1", Duration.ofSeconds(30)).isDone(), "a known task is there at once");
    }
}
