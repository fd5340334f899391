package dev.katmesh.launcher.demo;

import com.google.protobuf.util.JsonFormat;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.ContentOverlap;
import dev.katmesh.tasks.TaskSuite;
import dev.katmesh.tasks.Teacher;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The built-in task suite as files (tasks-train.jsonl, tasks-validation.jsonl, tasks-heldout.jsonl, the
 * teacher's sft.jsonl, made from training tasks only) and on katmesh.tasks.
 */
public final class TaskFiles {

    /** What was written. */
    public record Written(
            List<TaskSuite.Generated> tasks,
            int train,
            int validation,
            int heldout,
            int sft,
            List<String> teacherTexts) {}

    private TaskFiles() {}

    /**
     * Generates {@code count} tasks of the {@code families} (all when empty) from {@code seed} into {@code out}; with
     * {@code mistakes} >= 0 the teacher also writes one SFT trajectory per training task (that share with a
     * recoverable mistake).
     */
    public static Written write(Path out, long seed, List<String> families, int count, double mistakes)
            throws IOException, InterruptedException {
        Files.createDirectories(out);
        List<TaskSuite.Generated> tasks = new TaskSuite(seed, families).generate(count);
        JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
        int train = 0;
        int validation = 0;
        int heldout = 0;
        int sft = 0;
        Teacher teacher = mistakes < 0 ? null : new Teacher(new BubblewrapSandbox());
        if (teacher != null && !BubblewrapSandbox.available()) {
            throw new IllegalStateException(
                    "the teacher runs solutions in bubblewrap: apt-get install -y bubblewrap, or pass --no-teacher");
        }
        Random r = new Random(seed);
        List<String> teacherTexts = new ArrayList<>();
        try (BufferedWriter trainOut =
                        Files.newBufferedWriter(out.resolve("tasks-train.jsonl"), StandardCharsets.UTF_8);
                BufferedWriter validationOut =
                        Files.newBufferedWriter(out.resolve("tasks-validation.jsonl"), StandardCharsets.UTF_8);
                BufferedWriter heldOut =
                        Files.newBufferedWriter(out.resolve("tasks-heldout.jsonl"), StandardCharsets.UTF_8);
                BufferedWriter sftOut = Files.newBufferedWriter(out.resolve("sft.jsonl"), StandardCharsets.UTF_8)) {
            for (TaskSuite.Generated g : tasks) {
                Task t = g.task();
                switch (t.getSplit()) {
                    case TaskSuite.TRAIN -> {
                        trainOut.write(json.print(t) + "\n");
                        train++;
                    }
                    case TaskSuite.VALIDATION -> {
                        validationOut.write(json.print(t) + "\n");
                        validation++;
                    }
                    default -> {
                        heldOut.write(json.print(t) + "\n");
                        heldout++;
                    }
                }
                if (teacher != null && t.getSplit().equals(TaskSuite.TRAIN)) {
                    var trajectory = teacher.teach(g, r.nextInt(t.getReferencesCount()), r.nextDouble() < mistakes);
                    sftOut.write(new String(TrajectoryJson.write(trajectory), StandardCharsets.UTF_8) + "\n");
                    teacherTexts.addAll(ContentOverlap.texts(trajectory));
                    sft++;
                }
            }
        }
        return new Written(tasks, train, validation, heldout, sft, teacherTexts);
    }

    /** Publishes tasks to katmesh.tasks (keyed by task id, protobuf). Returns how many. */
    public static int publish(KafkaClients kafka, List<Task> tasks) throws Exception {
        try (KafkaProducer<String, byte[]> producer = producer(kafka)) {
            for (Task t : tasks) {
                send(producer, t);
            }
        }
        return tasks.size();
    }

    public static KafkaProducer<String, byte[]> producer(KafkaClients kafka) {
        Properties p = kafka.properties();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(
                ProducerConfig.MAX_BLOCK_MS_CONFIG,
                Long.toString(Duration.ofSeconds(30).toMillis()));
        return new KafkaProducer<>(p);
    }

    public static void send(KafkaProducer<String, byte[]> producer, Task t) throws Exception {
        ProducerRecord<String, byte[]> rec = new ProducerRecord<>(Topics.TASKS, t.getTaskId(), t.toByteArray());
        rec.headers().add("content-type", "application/x-protobuf".getBytes(StandardCharsets.UTF_8));
        producer.send(rec).get(30, TimeUnit.SECONDS);
    }
}
