package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.AuditCommand;
import dev.katmesh.launcher.demo.TaskFiles;
import dev.katmesh.launcher.mesh.ConsumerGroups;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.launcher.mesh.ManagedProcess;
import dev.katmesh.launcher.mesh.MeshLayout;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.launcher.mesh.Secrets;
import dev.katmesh.proto.wire.Topics;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Ingestion through the mesh against Kafka's own ceiling, on the same records and the same broker:
 * N deployed-agent trajectories (OpenAI chat JSON, ~1.5 KB) are
 * <ol>
 *   <li>produced to a scratch topic with Kafka's ProducerPerformance (acks=all, as katmesh's producers),</li>
 *   <li>consumed from it with Kafka's ConsumerPerformance,</li>
 *   <li>published to katmesh.trajectories.raw and timed until the learner has received all N: decoded,
 *       validated, scored and republished by the reward service, then read by the learner (count-only:
 *       no model, so this is ingestion, not training).</li>
 * </ol>
 * It prints records/s of each and the ratios of the mesh's ingestion to the raw rates.
 */
public final class IngestionBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCRATCH = "katmesh.bench.raw";
    /** Rows made by this process: part of each row's trajectory ids, so no two rows share one. */
    private static final AtomicInteger ROWS = new AtomicInteger();

    private IngestionBenchmark() {}

    /**
     * For each count of reward instances in turn (the mesh scaled to it, its consumer group settled), one row per
     * record size: {@code records} records of about 1 KB, and for a larger size as many as make
     * {@link #BYTES_PER_SIZE} (at least {@link #MIN_RECORDS}); then the audit of everything the mesh took in.
     */
    public static ObjectNode run(
            MeshSupervisor mesh, int records, int[] recordBytes, int[] rewardInstances, Duration timeout)
            throws Exception {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode configurations = o.putArray("configurations");
        for (int instances : rewardInstances) {
            mesh.up(
                    Duration.ofMinutes(4),
                    new MeshSupervisor.Start(null, Map.of(), Map.of(), false, Map.of("reward", instances)));
            ObjectNode c = configurations.addObject();
            c.put("reward_instances", instances);
            try (Admin admin = mesh.kafkaClients().admin()) {
                int partitions = 0;
                for (String topic : List.of(Topics.RAW, Topics.ROLLOUT)) {
                    partitions += partitions(admin, topic);
                }
                ObjectNode shares = c.putObject("partitions_per_instance");
                ConsumerGroups.awaitStable(admin, REWARD_GROUP, instances, partitions, Duration.ofMinutes(2))
                        .forEach((member, parts) -> shares.put(member, parts.size()));
            }
            // Unmeasured first, as many records as the row: every JVM on the path (a new instance's too) compiles its
            // hot code; a cold reward ran at a third of its warm rate, and a quarter of the row was not enough.
            for (int size : recordBytes) {
                row(mesh, count(records, size), size, timeout, false);
            }
            ArrayNode rows = c.putArray("sizes");
            for (int size : recordBytes) {
                rows.add(row(mesh, count(records, size), size, timeout, true));
            }
        }
        // Everything published, scored once, dead-lettered with a reason or not at all: the accounting intact.
        o.set("audit", AuditCommand.audit(mesh));
        ArrayNode notes = o.putArray("notes");
        notes.add("ingestion: publish to katmesh.trajectories.raw until the learner received "
                + "every record (reward: decode, validate, score, republish)");
        notes.add("kafka perf tools: same records, same broker, scratch topic " + SCRATCH
                + " with the raw topic's partitions");
        return o;
    }

    /** Records of at most this many bytes are the 1 KB trajectory of the first figures; above, sessions. */
    static final int SMALL = 2048;
    /** Bytes of records a larger size's row publishes: enough for a steady rate, little enough for the disk. */
    static final long BYTES_PER_SIZE = 256L << 20;
    /** Records a row publishes at least. */
    static final int MIN_RECORDS = 200;

    private static int count(int records, int size) {
        return size <= SMALL ? records : (int) Math.max(MIN_RECORDS, Math.min(records, BYTES_PER_SIZE / size));
    }

    /**
     * Publishes {@code records} records of about {@code recordBytes} through the mesh until the learner received
     * them all; when {@code measured}, Kafka's perf tools first run on the same records. Returns the row (null for a
     * warm-up round).
     */
    private static ObjectNode row(MeshSupervisor mesh, int records, int recordBytes, Duration timeout, boolean measured)
            throws Exception {
        Path dir = Files.createTempDirectory("katmesh-bench-ingestion");
        try {
            return row(mesh, records, recordBytes, timeout, measured, dir);
        } finally {
            MeshLayout.deleteTree(dir); // the payload file: up to 256 MB a row
        }
    }

    private static ObjectNode row(
            MeshSupervisor mesh, int records, int recordBytes, Duration timeout, boolean measured, Path dir)
            throws Exception {
        var status = mesh.status();
        KafkaClients kafka = mesh.kafkaClients();
        String bootstrap = kafka.bootstrap();
        String learner = status.path("services").path("learner").path("http").asText();
        String run = Long.toString(System.currentTimeMillis(), 36) + "-" + ROWS.incrementAndGet();
        Path payload = dir.resolve("trajectories.jsonl");
        Path clientConfig = clientConfig(kafka, dir);
        List<byte[]> values = new ArrayList<>();
        try (BufferedWriter w = Files.newBufferedWriter(payload, StandardCharsets.UTF_8)) {
            for (int i = 0; i < records; i++) {
                String json = recordBytes <= SMALL
                        ? IngestionRecords.trajectory(run, i)
                        : IngestionRecords.session(run, i, recordBytes);
                w.write(json);
                w.write('\n');
                values.add(json.getBytes(StandardCharsets.UTF_8));
            }
        }
        long bytes = values.stream().mapToLong(v -> v.length).sum();
        int partitions;
        try (Admin admin = kafka.admin()) {
            partitions = partitions(admin, Topics.RAW);
            if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(SCRATCH)) {
                admin.createTopics(List.of(new NewTopic(SCRATCH, partitions, (short) 1)
                                .configs(Map.of("max.message.bytes", Integer.toString(16 << 20)))))
                        .all()
                        .get(30, TimeUnit.SECONDS);
            }
        }

        double produceRate = Double.NaN;
        double consumeRate = Double.NaN;
        if (measured) {
            String produced = tool(
                    "org.apache.kafka.tools.ProducerPerformance",
                    "--topic",
                    SCRATCH,
                    "--num-records",
                    Integer.toString(records),
                    "--payload-file",
                    payload.toString(),
                    "--throughput",
                    "-1",
                    "--producer-props",
                    "bootstrap.servers=" + bootstrap,
                    "acks=all",
                    "max.request.size=" + (16 << 20),
                    "--producer.config",
                    clientConfig.toString());
            produceRate = number(produced, "(?m)^\\d+ records sent, ([0-9.]+) records/sec");
            String consumed = tool(
                    "org.apache.kafka.tools.ConsumerPerformance",
                    "--bootstrap-server",
                    bootstrap,
                    "--topic",
                    SCRATCH,
                    "--messages",
                    Integer.toString(records),
                    "--timeout",
                    "60000",
                    "--group",
                    "katmesh-bench-" + run,
                    "--consumer.config",
                    clientConfig.toString());
            consumeRate = consumerRate(consumed);
        }

        double before = PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null);
        long t0 = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = TaskFiles.producer(kafka)) {
            for (int i = 0; i < values.size(); i++) {
                ProducerRecord<String, byte[]> r =
                        new ProducerRecord<>(Topics.RAW, "bench-" + run + "-g" + (i % 64), values.get(i));
                r.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                producer.send(r);
            }
            producer.flush();
        }
        double publishSeconds = (System.nanoTime() - t0) / 1e9;
        long deadline = t0 + timeout.toNanos();
        double received = 0;
        while (System.nanoTime() < deadline) {
            received = PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null) - before;
            if (received >= records) {
                break;
            }
            Thread.sleep(50);
        }
        double ingestSeconds = (System.nanoTime() - t0) / 1e9;
        if (received < records) {
            throw new IllegalStateException(
                    "the learner received " + (long) received + " of " + records + " in " + timeout.toSeconds() + " s");
        }
        if (!measured) {
            return null;
        }
        double ingestRate = records / ingestSeconds;
        double meanBytes = (double) bytes / records;

        ObjectNode o = JSON.createObjectNode();
        o.put("records", records);
        o.put("record_bytes_mean", Math.round(meanBytes));
        o.put("partitions", partitions);
        o.put("kafka_producer_perf_records_per_s", round(produceRate));
        o.put("kafka_producer_perf_mb_per_s", round(produceRate * meanBytes / 1e6));
        o.put("kafka_consumer_perf_records_per_s", round(consumeRate));
        o.put("publish_to_raw_seconds", round(publishSeconds));
        o.put("ingestion_records_per_s", round(ingestRate));
        o.put("ingestion_mb_per_s", round(ingestRate * meanBytes / 1e6));
        o.put("ingestion_vs_producer_perf", round(ingestRate / produceRate));
        o.put("ingestion_vs_consumer_perf", round(ingestRate / consumeRate));
        return o;
    }

    /** The reward's consumer group (services/reward's application.properties). */
    private static final String REWARD_GROUP = "katmesh-reward";

    static int partitions(Admin admin, String topic) throws Exception {
        return admin.describeTopics(List.of(topic))
                .allTopicNames()
                .get(30, TimeUnit.SECONDS)
                .get(topic)
                .partitions()
                .size();
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /** Runs a Kafka tool's main class in its own JVM (the launcher's classpath) and returns its output. */
    /** Kafka's perf tools read the launcher's client settings (secure mode: the admin user) from a file. */
    static Path clientConfig(KafkaClients kafka, Path dir) throws IOException {
        Path file = dir.resolve("client.properties");
        Secrets.write(
                file,
                kafka.security().entrySet().stream()
                        .map(e -> e.getKey() + "=" + e.getValue().replace("\\", "\\\\") + "\n")
                        .reduce("", String::concat));
        return file;
    }

    static String tool(String mainClass, String... args) throws Exception {
        Path jar = Path.of(IngestionBenchmark.class
                .getProtectionDomain()
                .getCodeSource()
                .getLocation()
                .toURI());
        List<String> cmd =
                new ArrayList<>(List.of(ManagedProcess.javaBinary(), "-Xmx512m", "-cp", jar.toString(), mainClass));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("kafka-tool", ".out");
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(mainClass + " did not finish in 5 minutes");
        }
        String output = Files.readString(out);
        Files.delete(out);
        if (p.exitValue() != 0) {
            throw new IllegalStateException(mainClass + " failed: " + output);
        }
        return output;
    }

    static double number(String output, String regex) {
        Matcher m = Pattern.compile(regex).matcher(output);
        double last = Double.NaN;
        while (m.find()) {
            last = Double.parseDouble(m.group(1));
        }
        if (Double.isNaN(last)) {
            throw new IllegalStateException("no figure matching " + regex + " in:\n" + output);
        }
        return last;
    }

    /** ConsumerPerformance prints a CSV header and a row; nMsg.sec is the records/s over its whole run. */
    private static double consumerRate(String output) {
        String[] lines = output.strip().split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].contains("nMsg.sec")) {
                String[] header = lines[i].split(",\\s*");
                String[] row = lines[i + 1].split(",\\s*");
                for (int c = 0; c < header.length; c++) {
                    if (header[c].trim().equals("nMsg.sec")) {
                        return Double.parseDouble(row[c].trim());
                    }
                }
            }
        }
        throw new IllegalStateException("no nMsg.sec in ConsumerPerformance's output:\n" + output);
    }
}
