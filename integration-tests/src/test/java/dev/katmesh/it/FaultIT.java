package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * Faults on a running mesh: while deployed-agent trajectories stream into katmesh.trajectories.raw and
 * the rollout service works tasks through inference, each of learner, reward, inference and rollout is
 * SIGKILLed and restarted, then the Kafka broker is restarted. After recovery `./katmesh audit` must
 * find every published trajectory scored or dead-lettered, every scored one trained (the learner runs
 * SFT on the topic, so every record is trainable) exactly once, nothing lost, nothing scored or trained
 * twice. Each recovery time (kill to the service doing its work again) is printed and written to
 * target/fault-recovery.json.
 */
class FaultIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration RECOVERY = Duration.ofMinutes(3);

    @Test
    void everyTrajectoryIsTrainedExactlyOnceThroughCrashesOfEveryProcess() throws Exception {
        Path model = Mesh.tinyModel("fault-it", 5);
        Path curriculum = Mesh.HOME.resolve("integration-tests/target/fault-it-curriculum.yaml");
        Files.writeString(curriculum, """
                stages:
                  - name: online-sft
                    objective: sft
                    sources: [{topic: katmesh.trajectories.scored}]
                    steps: 1000000
                    learning_rate: 1e-3
                    version_every: 1
                """);
        String learner = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + curriculum,
                "-Dkatmesh.learner.group-size=4",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.group-timeout=3s",
                "-Dkatmesh.learner.keep-checkpoints=2");
        String rollout = String.join(
                " ",
                "-Dkatmesh.rollout.group-size=2",
                "-Dkatmesh.rollout.max-turns=2",
                "-Dkatmesh.rollout.max-new-tokens=24",
                "-Dkatmesh.rollout.splits=train,heldout");
        Map<String, String> env = Map.of(
                "KATMESH_LEARNER_OPTS",
                learner,
                "KATMESH_ROLLOUT_OPTS",
                rollout,
                "KATMESH_INFERENCE_OPTS",
                "-Dkatmesh.inference.model-dir=" + model,
                "KATMESH_API_KEY",
                "fault-it-key");
        ObjectNode recovery = JSON.createObjectNode();
        try (Mesh mesh = Mesh.up("fault", env)) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger sent = new AtomicInteger();
            AtomicInteger sendFailures = new AtomicInteger();
            Thread agents = new Thread(() -> publishUntil(mesh, stop, sent, sendFailures), "fault-it-agents");
            agents.start();
            try {
                tasks(mesh, 1);
                String learnerHttp = mesh.http("learner");
                Mesh.awaitMetric(
                        learnerHttp,
                        LearnerIT.TRAINED,
                        null,
                        16,
                        Duration.ofMinutes(3),
                        "the learner trains before the faults");
                Mesh.awaitMetric(
                        mesh.http("rollout"),
                        "katmesh_rollout_trajectories_published_total",
                        null,
                        1,
                        Duration.ofMinutes(3),
                        "rollout works before the faults");

                recovery.put("learner_s", killAndRecover(mesh, "learner", LearnerIT.TRAINED));
                recovery.put("reward_s", killAndRecover(mesh, "reward", "katmesh_reward_scored_total"));
                recovery.put("inference_s", seconds(inferenceRecovery(mesh)));
                long t0 = System.nanoTime();
                mesh.sigkill("rollout");
                mesh.katmesh(RECOVERY, "restart", "rollout");
                tasks(mesh, 2);
                Mesh.awaitMetric(
                        mesh.http("rollout"),
                        "katmesh_rollout_trajectories_published_total",
                        null,
                        1,
                        RECOVERY,
                        "rollout resumes after its SIGKILL");
                recovery.put("rollout_s", seconds(System.nanoTime() - t0));

                double scored = Mesh.metric(mesh.http("reward"), "katmesh_reward_scored_total", null);
                double trained = Mesh.metric(learnerHttp, LearnerIT.TRAINED, null);
                t0 = System.nanoTime();
                mesh.katmesh(RECOVERY, "restart", "kafka");
                Mesh.awaitMetric(
                        mesh.http("reward"),
                        "katmesh_reward_scored_total",
                        null,
                        scored + 4,
                        RECOVERY,
                        "scoring resumes after the broker restart");
                Mesh.awaitMetric(
                        learnerHttp,
                        LearnerIT.TRAINED,
                        null,
                        trained + 4,
                        RECOVERY,
                        "training resumes after the broker restart");
                recovery.put("kafka_s", seconds(System.nanoTime() - t0));
            } finally {
                stop.set(true);
                agents.join(60_000);
            }
            recovery.put("trajectories_sent", sent.get());
            recovery.put("send_failures", sendFailures.get());
            System.out.println("fault recovery (s): " + recovery);
            Files.writeString(
                    Mesh.HOME.resolve("integration-tests/target/fault-recovery.json"), recovery.toPrettyString());

            // Drained: the audit finds nothing pending, and every account balances.
            JsonNode audit = null;
            long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
            while (System.nanoTime() < deadline) {
                audit = mesh.audit();
                if (audit.path("pending").path("reward").asInt() == 0
                        && audit.path("pending").path("learner").asInt() == 0) {
                    break;
                }
                Thread.sleep(3000);
            }
            System.out.println("audit after the faults: " + audit);
            assertEquals(0, audit.path("pending").path("reward").asInt(), "the reward drained: " + audit);
            assertEquals(0, audit.path("pending").path("learner").asInt(), "the learner drained: " + audit);
            assertEquals(0, audit.path("lost").size(), "nothing lost: " + audit);
            assertEquals(0, audit.path("trained_twice").size(), "nothing trained twice: " + audit);
            assertEquals(0, audit.path("scored_twice").size(), "nothing scored twice: " + audit);
            assertTrue(audit.path("ok").asBoolean(), audit.toString());
            assertTrue(
                    audit.path("published").asInt() >= sent.get() - sendFailures.get(),
                    "every acknowledged send is on the raw topic: " + audit);
            int scoredIds = audit.path("scored").asInt();
            assertEquals(
                    scoredIds,
                    audit.path("trained").asInt() + audit.path("dropped").asInt(),
                    "every scored id trained or dropped: " + audit);
            assertTrue(
                    audit.path("trained").asInt() >= 0.9 * scoredIds,
                    "online SFT trains (nearly) everything: " + audit);
            assertEquals(
                    audit.path("published_ids").asInt(),
                    scoredIds + audit.path("dead_lettered").asInt(),
                    "every published id scored or dead-lettered, once: " + audit);
        }
    }

    /** SIGKILLs a service, restarts it, and returns the seconds until its counter moves in the new process. */
    private static double killAndRecover(Mesh mesh, String service, String counter) throws Exception {
        long t0 = System.nanoTime();
        mesh.sigkill(service);
        mesh.katmesh(RECOVERY, "restart", service);
        Mesh.awaitMetric(mesh.http(service), counter, null, 1, RECOVERY, service + " works again after its SIGKILL");
        return seconds(System.nanoTime() - t0);
    }

    /** SIGKILLs inference; the time until it completes a chat request again. */
    private static long inferenceRecovery(Mesh mesh) throws Exception {
        long t0 = System.nanoTime();
        mesh.sigkill("inference");
        mesh.katmesh(RECOVERY, "restart", "inference");
        HttpClient http = HttpClient.newHttpClient();
        String body =
                "{\"model\":\"fault-it\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
        long deadline = System.nanoTime() + RECOVERY.toNanos();
        int status = 0;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(mesh.http("inference") + "/v1/chat/completions"))
                            .header("authorization", "Bearer fault-it-key")
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            status = r.statusCode();
            if (status == 200) {
                return System.nanoTime() - t0;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("inference did not serve again within " + RECOVERY + " (last status " + status + ")");
    }

    private static void tasks(Mesh mesh, int seed) throws Exception {
        Path out = Mesh.HOME.resolve("integration-tests/target/fault-tasks-" + seed);
        mesh.katmesh(
                Duration.ofMinutes(2),
                "tasks",
                "generate",
                "--count",
                "2",
                "--seed",
                Integer.toString(seed),
                "--out",
                out.toString(),
                "--no-teacher",
                "--publish");
    }

    /** Deployed agents: a trajectory every 100 ms (groups of 4), riding through the broker's restart. */
    private static void publishUntil(Mesh mesh, AtomicBoolean stop, AtomicInteger sent, AtomicInteger failures) {
        Properties p = new Properties();
        try {
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, mesh.bootstrap());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "180000"); // longer than a broker restart
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "180000");
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; !stop.get(); i++) {
                String group = "agent-g" + (i / 4);
                String json = """
                        {"trajectory_id":"agent-%d","group_id":"%s","agent_id":"agent-%d","source":"deployed","model":"katmesh",
                         "messages":[{"role":"user","content":"Say %d."},{"role":"assistant","content":"%d"}],
                         "outcome":{"submitted":true,"kind":"answer","content":"%d"}}
                        """.formatted(i, group, i % 3, i, i, i);
                ProducerRecord<String, byte[]> r =
                        new ProducerRecord<>("katmesh.trajectories.raw", group, json.getBytes(StandardCharsets.UTF_8));
                r.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                producer.send(r, (md, e) -> {
                    if (e != null) {
                        failures.incrementAndGet();
                    }
                });
                sent.incrementAndGet();
                Thread.sleep(100);
            }
            producer.flush();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static double seconds(long nanos) {
        return Math.round(nanos / 1e8) / 10.0;
    }
}
