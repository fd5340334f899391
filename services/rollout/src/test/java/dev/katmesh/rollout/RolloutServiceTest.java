package dev.katmesh.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.Task;
import dev.katmesh.tasks.TaskSuite;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.reactive.messaging.memory.InMemoryConnector;
import jakarta.enterprise.inject.Any;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.junit.jupiter.api.Test;

/** The rollout's beans as one Quarkus application, its channels in memory: which task records it runs. */
@QuarkusTest
@QuarkusTestResource(InMemoryChannels.class)
class RolloutServiceTest {

    @Inject
    @Any
    InMemoryConnector connector;

    @TestHTTPResource("/")
    URI root;

    @Test
    void unreadableAndEvaluationTasksAreAcknowledgedAndCountedNeverRun() throws Exception {
        String before = metrics();
        for (String reason : new String[] {"unreadable", "split"}) {
            assertTrue(
                    before.contains("katmesh_rollout_tasks_skipped_total{reason=\"" + reason + "\"} 0.0"),
                    reason + " at zero");
        }
        Task heldout = new TaskSuite(1)
                .generate(200).stream()
                        .map(TaskSuite.Generated::task)
                        .filter(t -> t.getSplit().equals(TaskSuite.HELDOUT))
                        .findFirst()
                        .orElseThrow();
        send("not a task".getBytes(StandardCharsets.UTF_8));
        send(heldout.toByteArray());
        String after = metrics();
        assertTrue(
                after.contains("katmesh_rollout_tasks_skipped_total{reason=\"unreadable\"} 1.0"),
                "the unreadable record");
        assertTrue(
                after.contains("katmesh_rollout_tasks_skipped_total{reason=\"split\"} 1.0"),
                "a held-out task is never rolled out");
        assertEquals(0, connector.sink("trajectories-rollout").received().size(), "nothing was run");
    }

    /** Sends a record and waits for its acknowledgement. */
    void send(byte[] payload) throws Exception {
        CompletableFuture<Void> acked = new CompletableFuture<>();
        connector.source("tasks").send(Message.of(payload).withAck(() -> {
            acked.complete(null);
            return CompletableFuture.completedFuture(null);
        }));
        acked.get(30, TimeUnit.SECONDS);
    }

    String metrics() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(HttpRequest.newBuilder(root.resolve("q/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        return r.body();
    }
}
