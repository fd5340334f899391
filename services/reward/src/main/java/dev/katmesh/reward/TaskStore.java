package dev.katmesh.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.Task;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * The tasks this instance can score against: every record of katmesh.tasks, read from the beginning
 * by each instance (its own consumer group, nothing committed), kept by task id.
 */
@ApplicationScoped
public class TaskStore {

    private static final Logger LOG = Logger.getLogger(TaskStore.class);

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "katmesh-task-wait");
        t.setDaemon(true);
        return t;
    });

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();
    private final Map<String, ConcurrentLinkedQueue<CompletableFuture<Optional<Task>>>> waiters =
            new ConcurrentHashMap<>();

    @Incoming("tasks")
    public void onTask(byte[] payload) {
        try {
            Task t = Task.parseFrom(payload);
            if (!t.getTaskId().isBlank()) {
                tasks.put(t.getTaskId(), t);
                ConcurrentLinkedQueue<CompletableFuture<Optional<Task>>> q = waiters.remove(t.getTaskId());
                if (q != null) {
                    q.forEach(f -> f.complete(Optional.of(t)));
                }
            }
        } catch (InvalidProtocolBufferException e) {
            LOG.warnf("skipping an unreadable task record: %s", e.getMessage());
        }
    }

    /**
     * The task, now or when it arrives, or empty after {@code wait} (tasks and trajectories race at start-up).
     * Nothing blocks while it waits: the caller holds no thread, and so no scoring slot.
     */
    public CompletableFuture<Optional<Task>> whenKnown(String taskId, Duration wait) {
        Task t = tasks.get(taskId);
        if (t != null) {
            return CompletableFuture.completedFuture(Optional.of(t));
        }
        CompletableFuture<Optional<Task>> f = new CompletableFuture<>();
        waiters.computeIfAbsent(taskId, k -> new ConcurrentLinkedQueue<>()).add(f);
        t = tasks.get(taskId); // arrived between the look-up and the registration
        if (t != null) {
            f.complete(Optional.of(t));
        }
        TIMER.schedule(
                () -> f.complete(Optional.ofNullable(tasks.get(taskId))), wait.toMillis(), TimeUnit.MILLISECONDS);
        f.whenComplete((x, e) -> waiters.computeIfPresent(taskId, (k, q) -> {
            q.remove(f);
            return q.isEmpty() ? null : q;
        }));
        return f;
    }

    /** Trajectories waiting for a task now. */
    public int waiting() {
        return waiters.values().stream().mapToInt(ConcurrentLinkedQueue::size).sum();
    }

    public int size() {
        return tasks.size();
    }
}
