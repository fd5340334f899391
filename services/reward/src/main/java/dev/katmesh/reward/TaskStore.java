package dev.katmesh.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.Task;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * The tasks this instance can score against: every record of katmesh.tasks, read from the beginning
 * by each instance (its own consumer group, nothing committed), kept by task id.
 */
@ApplicationScoped
public class TaskStore {

    private static final Logger LOG = Logger.getLogger(TaskStore.class);

    private final Map<String, Task> tasks = new ConcurrentHashMap<>();

    @Incoming("tasks")
    public void onTask(byte[] payload) {
        try {
            Task t = Task.parseFrom(payload);
            if (!t.getTaskId().isBlank()) {
                tasks.put(t.getTaskId(), t);
            }
        } catch (InvalidProtocolBufferException e) {
            LOG.warnf("skipping an unreadable task record: %s", e.getMessage());
        }
    }

    /** The task, waiting up to {@code wait} for it to arrive (tasks and trajectories race at start-up). */
    public Optional<Task> await(String taskId, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        Task t = tasks.get(taskId);
        while (t == null && System.nanoTime() < deadline) {
            Thread.sleep(100);
            t = tasks.get(taskId);
        }
        return Optional.ofNullable(t);
    }

    public int size() {
        return tasks.size();
    }
}
