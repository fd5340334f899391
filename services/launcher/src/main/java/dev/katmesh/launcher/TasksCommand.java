package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.util.JsonFormat;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.TaskSuite;
import dev.katmesh.tasks.Teacher;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `./katmesh tasks generate`: the built-in task suite as JSONL (and on katmesh.tasks), with the teacher's SFT data. */
@Command(name = "tasks", description = "The built-in task suite.", subcommands = {TasksCommand.Generate.class})
final class TasksCommand {

    @Command(name = "generate", description = "Writes tasks-train.jsonl, tasks-heldout.jsonl and the teacher's sft.jsonl; --publish sends the tasks to katmesh.tasks.")
    static final class Generate implements Callable<Integer> {
        @CommandLine.Mixin Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--count", defaultValue = "120", description = "Tasks to generate (default ${DEFAULT-VALUE}).")
        int count;

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--mistakes", defaultValue = "0.3", description = "Share of teacher trajectories with a recoverable mistake.")
        double mistakes;

        @Option(names = "--no-teacher", description = "Only the tasks (the teacher runs every solution in the sandbox).")
        boolean noTeacher;

        @Option(names = "--publish", description = "Also publish the tasks to katmesh.tasks of the running mesh.")
        boolean publish;

        @Override
        public Integer call() throws Exception {
            Files.createDirectories(out);
            var tasks = new TaskSuite(seed).generate(count);
            JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
            int train = 0;
            int heldout = 0;
            int sft = 0;
            Teacher teacher = noTeacher ? null : new Teacher(new BubblewrapSandbox());
            if (teacher != null && !BubblewrapSandbox.available()) {
                throw new IllegalStateException("the teacher runs solutions in bubblewrap: apt-get install -y bubblewrap, or pass --no-teacher");
            }
            Random r = new Random(seed);
            try (BufferedWriter trainOut = Files.newBufferedWriter(out.resolve("tasks-train.jsonl"), StandardCharsets.UTF_8);
                 BufferedWriter heldOut = Files.newBufferedWriter(out.resolve("tasks-heldout.jsonl"), StandardCharsets.UTF_8);
                 BufferedWriter sftOut = Files.newBufferedWriter(out.resolve("sft.jsonl"), StandardCharsets.UTF_8)) {
                for (TaskSuite.Generated g : tasks) {
                    Task t = g.task();
                    boolean isTrain = t.getSplit().equals("train");
                    (isTrain ? trainOut : heldOut).write(json.print(t) + "\n");
                    if (isTrain) {
                        train++;
                    } else {
                        heldout++;
                    }
                    if (teacher != null && isTrain) {
                        var trajectory = teacher.teach(g, r.nextInt(t.getReferencesCount()), r.nextDouble() < mistakes);
                        sftOut.write(new String(TrajectoryJson.write(trajectory), StandardCharsets.UTF_8) + "\n");
                        sft++;
                    }
                }
            }
            int published = 0;
            if (publish) {
                String bootstrap = mesh.supervisor().status().path("kafka").path("bootstrap").asText();
                Properties p = new Properties();
                p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
                p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
                p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(Duration.ofSeconds(30).toMillis()));
                try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
                    for (TaskSuite.Generated g : tasks) {
                        ProducerRecord<String, byte[]> rec = new ProducerRecord<>("katmesh.tasks", g.task().getTaskId(), g.task().toByteArray());
                        rec.headers().add("content-type", "application/x-protobuf".getBytes(StandardCharsets.UTF_8));
                        producer.send(rec).get(30, TimeUnit.SECONDS);
                        published++;
                    }
                }
            }
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("train", train);
            o.put("heldout", heldout);
            o.put("sft", sft);
            o.put("published", published);
            o.put("out", out.toAbsolutePath().toString());
            System.out.println(o);
            return 0;
        }
    }
}
