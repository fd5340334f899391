package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A mesh under steady deployed traffic, as the fault and scale-out tests run it: a tiny policy trained by online
 * SFT on every scored trajectory, agents publishing a trajectory every 100 ms, a few tasks rolled out, and the
 * audit that must balance afterwards.
 */
final class DeployedAgents {

    private static final ObjectMapper JSON = new ObjectMapper();

    private DeployedAgents() {}

    /**
     * The environment of `./katmesh up` for a mesh whose learner trains every scored trajectory (SFT on the topic,
     * small steps, a version each step) and whose inference serves a tiny model {@code name}.
     */
    static Map<String, String> onlineSftMesh(String name, String apiKey) throws IOException, InterruptedException {
        Path model = Mesh.tinyModel(name, 5);
        Path curriculum = Mesh.HOME.resolve("integration-tests/target/" + name + "-curriculum.yaml");
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
        return Map.of(
                "KATMESH_LEARNER_OPTS",
                learner,
                "KATMESH_ROLLOUT_OPTS",
                rollout,
                "KATMESH_INFERENCE_OPTS",
                "-Dkatmesh.inference.model-dir=" + model,
                "KATMESH_API_KEY",
                apiKey);
    }

    /** Generates two tasks (seeded, no teacher) and publishes them to katmesh.tasks for the rollout service. */
    static void tasks(Mesh mesh, int seed) throws Exception {
        Path out = Mesh.HOME.resolve("integration-tests/target/" + mesh.dataDir.getFileName() + "-tasks-" + seed);
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

    /** Deployed agents: a trajectory every 100 ms (groups of 4), riding through a broker's restart. */
    static void publishUntil(Mesh mesh, AtomicBoolean stop, AtomicInteger sent, AtomicInteger failures) {
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

    /**
     * Agents in multi-turn sessions over the OpenAI API until {@code stop}: {@code agents} threads, each running
     * sessions of four turns (the conversation growing with each answer, half a second between turns) and ending
     * them. The id of every response
     * that arrived (status 200) is added to {@code served}; requests that fail (inference down) are retried and
     * counted in {@code refused}. {@code model}: the served model's name (its folder's).
     */
    static List<Thread> sessionsUntil(
            Mesh mesh,
            String apiKey,
            String model,
            int agents,
            AtomicBoolean stop,
            Set<String> served,
            AtomicInteger refused) {
        List<Thread> threads = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            int agent = a;
            Thread t = new Thread(
                    () -> {
                        for (int session = 0; !stop.get(); session++) {
                            String id = "agent" + agent + "-s" + session;
                            ArrayNode messages = JSON.createArrayNode();
                            for (int turn = 0; turn < 4 && !stop.get(); ) {
                                ObjectNode user = messages.addObject().put("role", "user");
                                user.put("content", "Agent " + agent + ", turn " + turn + ": say " + (turn * 7) + ".");
                                JsonNode answer = chat(mesh, apiKey, model, id, messages);
                                if (answer == null) {
                                    messages.remove(messages.size() - 1);
                                    refused.incrementAndGet();
                                    sleep(300);
                                    continue;
                                }
                                served.add(answer.path("id").asText());
                                messages.add(answer.at("/choices/0/message"));
                                turn++;
                                sleep(500); // the agent works between turns (its tools, its thinking)
                            }
                            post(mesh, apiKey, "/v1/sessions/" + id + "/end", "{}");
                        }
                    },
                    "agent-" + a);
            t.start();
            threads.add(t);
        }
        return threads;
    }

    /** One chat turn of a session; null when it did not get a 200. */
    private static JsonNode chat(Mesh mesh, String apiKey, String model, String session, ArrayNode messages) {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("max_tokens", 6);
        body.set("messages", messages);
        HttpResponse<String> r = post(mesh, apiKey, "/v1/chat/completions", body.toString(), session);
        try {
            return r != null && r.statusCode() == 200 ? JSON.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static HttpResponse<String> post(Mesh mesh, String apiKey, String path, String body, String... session) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(mesh.http("inference") + path))
                    .timeout(Duration.ofSeconds(60))
                    .header("authorization", "Bearer " + apiKey)
                    .header("content-type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body));
            if (session.length > 0) {
                b.header("x-katmesh-session-id", session[0]);
            }
            return Mesh.HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            return null; // inference is down
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Every response an agent received is named by exactly one scored trajectory (the trees inference logged,
     * assembled by the reward, across inference's death): none lost, none twice.
     */
    static void assertEveryServedRequestOnce(Mesh mesh, Set<String> served) throws Exception {
        Map<String, String> namedBy = new HashMap<>();
        List<String> twice = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r :
                mesh.readAll("katmesh.trajectories.scored", Integer.MAX_VALUE, Duration.ofSeconds(10))) {
            Trajectory t = ScoredTrajectory.parseFrom(r.value()).getTrajectory();
            for (String id : t.getCapturedRequestIdsList()) {
                String before = namedBy.put(id, t.getTrajectoryId());
                if (before != null && !before.equals(t.getTrajectoryId())) {
                    twice.add(id + " in " + before + " and " + t.getTrajectoryId());
                }
            }
        }
        List<String> missing =
                served.stream().filter(id -> !namedBy.containsKey(id)).sorted().toList();
        assertEquals(List.of(), missing, missing.size() + " of " + served.size() + " served requests in no trajectory");
        assertEquals(List.of(), twice, "requests in two trajectories");
    }

    /**
     * Waits until the audit finds nothing pending, then asserts that every account balances: every acknowledged
     * send on the raw topic, every published id scored or dead-lettered once, every scored id trained or dropped
     * once, nothing lost. Returns the audit.
     */
    static JsonNode assertEveryTrajectoryOnce(Mesh mesh, int sent, int sendFailures) throws Exception {
        JsonNode audit = null;
        long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (System.nanoTime() < deadline) {
            audit = mesh.audit();
            if (audit.path("pending").path("reward").asInt() == 0
                    && audit.path("pending").path("learner").asInt() == 0
                    && audit.path("capture").path("pending").asInt() == 0) {
                break;
            }
            Thread.sleep(3000);
        }
        System.out.println("audit: " + audit);
        assertEquals(0, audit.path("pending").path("reward").asInt(), "the reward drained: " + audit);
        assertEquals(0, audit.path("pending").path("learner").asInt(), "the learner drained: " + audit);
        assertEquals(0, audit.path("capture").path("pending").asInt(), "every captured tree assembled: " + audit);
        assertTrue(audit.path("capture").path("ok").asBoolean(), "every captured request in one trajectory: " + audit);
        assertEquals(0, audit.path("lost").size(), "nothing lost: " + audit);
        assertEquals(0, audit.path("trained_twice").size(), "nothing trained twice: " + audit);
        assertEquals(0, audit.path("scored_twice").size(), "nothing scored twice: " + audit);
        assertTrue(audit.path("ok").asBoolean(), audit.toString());
        assertTrue(
                audit.path("published").asInt() >= sent - sendFailures,
                "every acknowledged send is on the raw topic: " + audit);
        int scoredIds = audit.path("scored").asInt();
        assertEquals(
                scoredIds,
                audit.path("trained").asInt() + audit.path("dropped").asInt(),
                "every scored id trained or dropped: " + audit);
        assertTrue(audit.path("trained").asInt() >= 0.9 * scoredIds, "online SFT trains (nearly) everything: " + audit);
        assertEquals(
                audit.path("published_ids").asInt(),
                scoredIds + audit.path("dead_lettered").asInt(),
                "every published id scored or dead-lettered, once: " + audit);
        return audit;
    }
}
