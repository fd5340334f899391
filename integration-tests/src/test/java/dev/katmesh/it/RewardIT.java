package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.Trajectory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** The multi-ground-truth reward in the mesh: tasks from katmesh.tasks, tests in the sandbox, one score per id. */
class RewardIT {

    @Test
    void scoresAgainstTheTaskAndNeverTwice() throws Exception {
        Path out = Mesh.HOME.resolve("integration-tests/target/reward-tasks");
        try (Mesh mesh = Mesh.up("reward", Map.of())) {
            mesh.katmesh(
                    Duration.ofMinutes(2),
                    "tasks",
                    "generate",
                    "--count",
                    "6",
                    "--seed",
                    "9",
                    "--out",
                    out.toString(),
                    "--no-teacher",
                    "--publish");
            Task.Builder tb = Task.newBuilder();
            String line = Files.readAllLines(out.resolve("tasks-train.jsonl")).get(0);
            JsonFormat.parser().merge(line, tb);
            Task task = tb.build();
            String reference = task.getReferences(0).getContent();
            Trajectory right = submission("right-1", task, reference);
            Trajectory wrong = submission("wrong-1", task, "def solve(*args):\n    return None\n");
            mesh.send(
                    "katmesh.trajectories.raw",
                    task.getTaskId(),
                    Map.of("content-type", "application/x-protobuf"),
                    right.toByteArray());
            mesh.send(
                    "katmesh.trajectories.raw",
                    task.getTaskId(),
                    Map.of("content-type", "application/x-protobuf"),
                    wrong.toByteArray());
            mesh.send(
                    "katmesh.trajectories.raw",
                    task.getTaskId(),
                    Map.of("content-type", "application/x-protobuf"),
                    right.toByteArray());
            String reward = mesh.http("reward");
            Mesh.awaitMetric(
                    reward,
                    "katmesh_reward_duplicates_total",
                    null,
                    1,
                    Duration.ofSeconds(60),
                    "the republished trajectory is recognised");
            Map<String, ScoredTrajectory> scored = new HashMap<>();
            int count = 0;
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(20))) {
                ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
                scored.put(s.getTrajectory().getTrajectoryId(), s);
                count++;
            }
            assertEquals(2, count, "one scored record per trajectory id: " + scored.keySet());
            ScoredTrajectory good = scored.get("right-1");
            ScoredTrajectory bad = scored.get("wrong-1");
            assertEquals(
                    1.0, value(good, "tests"), 1e-9, good.getComponentsList().toString());
            assertEquals(1.0, value(good, "reference_similarity"), 1e-9);
            assertEquals(0.0, value(bad, "tests"), 1e-9, bad.getComponentsList().toString());
            assertTrue(good.getReward() > bad.getReward() + 0.9, good.getReward() + " vs " + bad.getReward());
            assertTrue(!good.getTaskless() && !good.getPlaceholder());

            // Trajectories naming a task that never arrives wait for it without a scoring slot, then go to the DLQ
            // with their reason; a scorable record sent behind a burst of them is scored at once, not after the wait.
            for (int i = 0; i < 8; i++) {
                Trajectory orphan = submission("orphan-" + i, task, reference).toBuilder()
                        .setTaskId("no-such-task-" + i)
                        .build();
                mesh.send(
                        "katmesh.trajectories.raw",
                        "orphans",
                        Map.of("content-type", "application/x-protobuf"),
                        orphan.toByteArray());
            }
            long sent = System.nanoTime();
            mesh.send(
                    "katmesh.trajectories.raw",
                    task.getTaskId(),
                    Map.of("content-type", "application/x-protobuf"),
                    submission("right-2", task, reference).toByteArray());
            Mesh.awaitMetric(
                    reward,
                    "katmesh_reward_scored_total",
                    null,
                    3,
                    Duration.ofSeconds(30),
                    "the record behind the orphans is scored");
            double waitedS = (System.nanoTime() - sent) / 1e9;
            assertTrue(
                    waitedS < 9,
                    "scored in " + waitedS + " s, before the orphans' 10 s task wait ended: they hold no scoring slot");
            List<ConsumerRecord<String, byte[]>> dlq =
                    mesh.readAll("katmesh.trajectories.dlq", 8, Duration.ofSeconds(60));
            assertEquals(8, dlq.size(), "every orphan is dead-lettered");
            dlq.forEach(r -> assertEquals("UNKNOWN_TASK", Mesh.header(r, "katmesh-reject-reason")));

            // A crash loses the in-memory dedupe store; the restarted service reads the scored ids back
            // from katmesh.trajectories.scored, so replays and republished copies are still recognised.
            mesh.sigkill("reward");
            mesh.katmesh(Duration.ofMinutes(3), "restart", "reward");
            mesh.send(
                    "katmesh.trajectories.raw",
                    task.getTaskId(),
                    Map.of("content-type", "application/x-protobuf"),
                    right.toByteArray());
            Mesh.awaitMetric(
                    reward,
                    "katmesh_reward_duplicates_total",
                    null,
                    1,
                    Duration.ofSeconds(90),
                    "after a restart the republished trajectory is recognised");
            Thread.sleep(2000);
            int after = mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(20))
                    .size();
            assertEquals(3, after, "still one scored record per trajectory id after a crash and a republish");
        }
    }

    static double value(ScoredTrajectory s, String name) {
        return s.getComponentsList().stream()
                .filter(c -> c.getName().equals(name))
                .findFirst()
                .orElseThrow()
                .getValue();
    }

    static Trajectory submission(String id, Task task, String content) {
        return Trajectory.newBuilder()
                .setTrajectoryId(id)
                .setGroupId(task.getTaskId())
                .setTaskId(task.getTaskId())
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent(task.getInstruction()))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("submitted"))
                .setOutcome(Outcome.newBuilder()
                        .setSubmitted(true)
                        .setKind(SolutionKind.SOLUTION_KIND_FILE)
                        .setPath(task.getTagsOrThrow("solution_path"))
                        .setContent(content))
                .build();
    }
}
