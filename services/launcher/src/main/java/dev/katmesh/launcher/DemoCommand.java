package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job on the embedded default. Today it runs the mesh's first flow: starts the mesh, publishes
 * deployed agents' sessions (OpenAI chat JSON), a rollout trajectory (protobuf) and two bad records,
 * shows them scored (the multi-ground-truth reward, taskless here), dead-lettered and received by the
 * learner, and stops the mesh it started.
 * The training curriculum joins it as the learner, inference and rollout arrive.
 */
@Command(name = "demo", description = "Runs the main job on the embedded mesh and stops by itself.")
final class DemoCommand implements Callable<Integer> {

    @CommandLine.Mixin Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

    @Option(names = "--keep", description = "Leave the mesh running at the end.")
    boolean keep;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "240")
    int timeout;

    @Override
    public Integer call() throws Exception {
        MeshSupervisor supervisor = mesh.supervisor();
        boolean wasRunning = "UP".equals(supervisor.status().path("kafka").path("health").asText());
        supervisor.up(Duration.ofSeconds(timeout));
        try {
            return run(supervisor.status());
        } finally {
            if (!keep && !wasRunning) {
                System.out.println("stopping the mesh: " + supervisor.down());
            }
        }
    }

    private int run(JsonNode status) throws Exception {
        String bootstrap = status.path("kafka").path("bootstrap").asText();
        String learner = status.path("services").path("learner").path("http").asText();
        String reward = status.path("services").path("reward").path("http").asText();
        String run = Long.toString(System.currentTimeMillis(), 36);

        Map<String, byte[]> good = new LinkedHashMap<>();
        Map<String, String> types = new LinkedHashMap<>();
        for (String line : demoSessions()) {
            String id = line.replaceFirst("(?s).*?\"trajectory_id\":\"([^\"]+)\".*", "$1");
            good.put(id + "-" + run, line.replace("\"" + id + "\"", "\"" + id + "-" + run + "\"").getBytes(StandardCharsets.UTF_8));
            types.put(id + "-" + run, "application/json");
        }
        Trajectory rollout = Trajectory.newBuilder().setTrajectoryId("demo-rollout-1-" + run).setGroupId("demo-hello")
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Print hello"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("print('hello')"))
                .addAllTokenIds(List.of(8963, 23811, 1350, 492, 14990, 863))
                .addSegments(TokenSegment.newBuilder().setStart(0).setEnd(3).setMessageIndex(0))
                .addSegments(TokenSegment.newBuilder().setStart(3).setEnd(6).setGenerated(true).setPolicyVersion(0)
                        .addAllLogprobs(List.of(-0.1f, -0.7f, -0.05f)).setMessageIndex(1))
                .setCreatedAtMs(System.currentTimeMillis()).build();
        good.put(rollout.getTrajectoryId(), rollout.toByteArray());
        types.put(rollout.getTrajectoryId(), "application/x-protobuf");
        Map<String, byte[]> bad = new LinkedHashMap<>();
        bad.put("malformed JSON", "{\"trajectory_id\": \"demo-bad\", \"messages\": [".getBytes(StandardCharsets.UTF_8));
        bad.put("truncated protobuf", Arrays.copyOf(rollout.toByteArray(), rollout.getSerializedSize() / 2));

        double receivedBefore = PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null);
        double rejectedBefore = PrometheusScrape.sum(reward, "katmesh_reward_rejected_total", null);
        long start = System.nanoTime();
        try (KafkaProducer<String, byte[]> producer = producer(bootstrap)) {
            for (Map.Entry<String, byte[]> e : good.entrySet()) {
                send(producer, e.getKey(), types.get(e.getKey()), e.getValue());
            }
            send(producer, "demo-bad-json-" + run, "application/json", bad.get("malformed JSON"));
            send(producer, "demo-bad-proto-" + run, "application/x-protobuf", bad.get("truncated protobuf"));
            producer.flush();
        }
        System.out.printf("published %d trajectories (%d JSON from deployed agents, 1 protobuf from rollout) and %d bad records%n",
                good.size(), good.size() - 1, bad.size());

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        double received = 0;
        double rejected = 0;
        while (System.nanoTime() < deadline) {
            received = PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null) - receivedBefore;
            rejected = PrometheusScrape.sum(reward, "katmesh_reward_rejected_total", null) - rejectedBefore;
            System.out.printf("[%5.1fs] learner received %d/%d · dead-lettered %d/%d%n", (System.nanoTime() - start) / 1e9,
                    (int) received, good.size(), (int) rejected, bad.size());
            if (received >= good.size() && rejected >= bad.size()) {
                break;
            }
            Thread.sleep(500);
        }
        if (received < good.size() || rejected < bad.size()) {
            System.out.println("demo: not every record arrived within 60 s; see ./katmesh logs reward and ./katmesh logs learner");
            return 1;
        }
        System.out.println("dead-letter reasons (katmesh.trajectories.dlq):");
        for (String reason : dlqReasons(bootstrap, run)) {
            System.out.println("  " + reason);
        }
        System.out.printf("done in %.1f s: %d trajectories scored and received by the learner, %d bad records dead-lettered%n",
                (System.nanoTime() - start) / 1e9, (int) received, (int) rejected);
        return 0;
    }

    private static List<String> demoSessions() throws Exception {
        List<String> lines = new ArrayList<>();
        try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/deployed-sessions.jsonl");
             BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (!line.isBlank()) {
                    lines.add(line);
                }
            }
        }
        return lines;
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        return new KafkaProducer<>(p);
    }

    private static void send(KafkaProducer<String, byte[]> producer, String key, String contentType, byte[] value) throws Exception {
        ProducerRecord<String, byte[]> r = new ProducerRecord<>("katmesh.trajectories.raw", key, value);
        r.headers().add("content-type", contentType.getBytes(StandardCharsets.UTF_8));
        producer.send(r).get(30, TimeUnit.SECONDS);
    }

    /** The reasons of this run's dead-letter records. */
    private static List<String> dlqReasons(String bootstrap, String run) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "katmesh-demo-" + run);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<String> reasons = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of("katmesh.trajectories.dlq"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (reasons.size() < 2 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(r -> {
                    if (r.key() != null && r.key().endsWith("-" + run)) {
                        var h = r.headers().lastHeader("dead-letter-reason");
                        reasons.add(r.key() + ": " + (h == null ? "?" : new String(h.value(), StandardCharsets.UTF_8)));
                    }
                });
            }
        }
        return reasons;
    }
}
