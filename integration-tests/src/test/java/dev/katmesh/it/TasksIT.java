package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.Trajectory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/** `./katmesh tasks generate --publish`: the task suite on katmesh.tasks and the teacher's SFT file. */
class TasksIT {

    @Test
    void generatesPublishesAndTeaches() throws Exception {
        Path out = Mesh.HOME.resolve("integration-tests/target/tasks");
        try (Mesh mesh = Mesh.up("tasks", Map.of())) {
            String summary = mesh.katmesh(
                    Duration.ofMinutes(3),
                    "tasks",
                    "generate",
                    "--count",
                    "24",
                    "--seed",
                    "5",
                    "--out",
                    out.toString(),
                    "--mistakes",
                    "0.5",
                    "--publish");
            assertTrue(summary.contains("\"published\":24"), summary);
            List<ConsumerRecord<String, byte[]>> records = mesh.readAll("katmesh.tasks", 24, Duration.ofSeconds(30));
            assertEquals(24, records.size());
            for (ConsumerRecord<String, byte[]> r : records) {
                Task t = Task.parseFrom(r.value());
                assertEquals(t.getTaskId(), r.key(), "tasks are keyed by id");
                assertTrue(
                        t.getReferencesCount() >= 2 && t.getTestSuitesCount() == 2,
                        t.getTaskId() + ": visible tests and judged cases");
                assertTrue(
                        t.getTestSuitesList().stream()
                                .anyMatch(s -> s.getCasesCount() > 0
                                        && !s.getCases(0).getExpected().isEmpty()),
                        t.getTaskId() + " carries its judged cases");
            }
        }
        List<String> sft = Files.readAllLines(out.resolve("sft.jsonl"));
        List<String> train = Files.readAllLines(out.resolve("tasks-train.jsonl"));
        assertEquals(train.size(), sft.size(), "one teacher trajectory per training task");
        int withMistake = 0;
        for (String line : sft) {
            Trajectory t =
                    TrajectoryJson.parse(line.getBytes(StandardCharsets.UTF_8)).trajectory();
            assertTrue(t.getOutcome().getSubmitted(), t.getTrajectoryId());
            withMistake +=
                    t.getStepsList().stream().anyMatch(s -> !s.getErrorClass().isEmpty()) ? 1 : 0;
        }
        assertTrue(
                withMistake > 0 && withMistake < sft.size(),
                "some trajectories carry a recoverable mistake: " + withMistake);
    }
}
