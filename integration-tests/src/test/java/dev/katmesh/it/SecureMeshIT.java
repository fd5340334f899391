package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.ModelInfoRequest;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.WeightsGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Secure mode (`./katmesh up --secure`), the same broker configuration the launcher gives users: every
 * Kafka client authenticates with SASL/SCRAM-SHA-512 and may do only what its role needs. Each refusal
 * is proven here: agents write raw trajectories and nothing else (with kafkajs, a client in another
 * language, and with Kafka's Java client), wrong or missing credentials get nowhere, a service's user
 * cannot do another's work, only inference's credential fetches weights, inference wants its API key,
 * and rewards and masks sent by an agent are dropped.
 */
class SecureMeshIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path NODE = Mesh.HOME.resolve("integration-tests/src/test/node");
    static final String RAW = "katmesh.trajectories.raw";
    static final String SCORED = "katmesh.trajectories.scored";
    static Mesh mesh;

    @BeforeAll
    static void up() throws Exception {
        mesh = Mesh.up("secure", Map.of(), "--secure");
    }

    @AfterAll
    static void down() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void statusNamesTheAgentsSettingsAndSecretsAreOwnerOnly() throws Exception {
        JsonNode security = mesh.status().path("kafka").path("security");
        assertEquals("SASL_PLAINTEXT", security.path("protocol").asText(), security.toString());
        assertEquals("SCRAM-SHA-512", security.path("sasl_mechanism").asText(), security.toString());
        Path secrets = mesh.dataDir.resolve("secrets");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets)));
        for (String f : List.of("kafka-users.properties", "agent.properties", "agent.json", "weights-token")) {
            assertEquals(
                    "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets.resolve(f))), f);
        }
        assertEquals(
                "rw-------",
                PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(mesh.dataDir.resolve("kafka/server.properties"))),
                "the broker's config holds its password");
        Properties agent = new Properties();
        try (var in =
                Files.newBufferedReader(Path.of(security.path("agent_config").asText()))) {
            agent.load(in);
        }
        assertEquals(mesh.bootstrap(), agent.getProperty("bootstrap.servers"));
        assertTrue(
                agent.getProperty("sasl.jaas.config").contains("username=\"katmesh-agent\""),
                "agent.properties is a ready Java client config");
    }

    @Test
    void anAgentPublishesWithKafkajsAndTheMeshScoresItIgnoringTheRewardItClaims() throws Exception {
        String learner = mesh.http("learner");
        double before = Mesh.metric(learner, FirstFlowIT.COUNTER, null);
        Path file = Mesh.scratchFile("secure-trajectory", ".json");
        Files.writeString(file, """
                {"trajectory_id":"secure-1","group_id":"group-secure","session_id":"sess-1","agent_id":"agent-a","source":"deployed",
                 "reward":1.0,"advantages":[5.0],"error_mask":[false,false],
                 "messages":[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"5"}],
                 "outcome":{"submitted":true,"kind":"answer","content":"5"}}
                """);
        JsonNode sent = agent("produce", RAW, "group-secure", file.toString());
        assertTrue(sent.path("ok").asBoolean(), "the agent user may write katmesh.trajectories.raw: " + sent);

        Mesh.awaitMetric(
                learner,
                FirstFlowIT.COUNTER,
                null,
                before + 1,
                Duration.ofSeconds(60),
                "reward (its own user) scores it and the learner (its own user) receives it");
        ScoredTrajectory scored = scored("secure-1");
        assertEquals(
                3,
                scored.getIgnoredAgentFields(),
                "reward, advantages and error_mask sent by the agent are counted and dropped");
        assertNotEquals(
                1.0, scored.getReward(), 1e-9, "the claimed reward is not the reward: " + scored.getComponentsList());
        assertFalse(scored.getComponentsList().isEmpty(), "the reward service computed its own components");

        String audit = mesh.katmesh(Duration.ofMinutes(3), "audit", "--json");
        JsonNode a = JSON.readTree(audit.lines().reduce((x, y) -> y).orElseThrow());
        assertTrue(a.path("ok").asBoolean(), "audit reads the secure broker as the launcher's admin user: " + a);
        assertTrue(a.path("published").asInt() >= 1 && a.path("lost").isEmpty(), a.toString());
    }

    @Test
    void anAgentMayWriteNoOtherTopic() throws Exception {
        Path file = Mesh.scratchFile("forged", ".json");
        Files.writeString(file, "{\"trajectory_id\":\"forged-1\",\"reward\":1.0}");
        // katmesh.trajectories.rollout among them: a record's source is the topic it is on, so an agent cannot pass as
        // rollout.
        for (String topic : List.of(
                SCORED,
                "katmesh.tasks",
                "katmesh.policy.versions",
                "katmesh.trajectories.dlq",
                "katmesh.trajectories.rollout")) {
            JsonNode r = agent("produce", topic, "g", file.toString());
            assertFalse(r.path("ok").asBoolean(), "the agent wrote " + topic + ": " + r);
            assertEquals("TOPIC_AUTHORIZATION_FAILED", r.path("type").asText(), topic + ": " + r);
        }
        // The same refusal for Kafka's Java client with the agent's settings file.
        try (KafkaProducer<String, byte[]> p = producer(agentProperties())) {
            ExecutionException e = assertThrows(
                    ExecutionException.class,
                    () -> p.send(new ProducerRecord<>(SCORED, "g", "{}".getBytes(StandardCharsets.UTF_8)))
                            .get(30, TimeUnit.SECONDS));
            assertInstanceOf(AuthorizationException.class, e.getCause(), e.toString());
        }
        for (ConsumerRecord<String, byte[]> r : mesh.readAll(SCORED, Integer.MAX_VALUE, Duration.ofSeconds(5))) {
            assertFalse(
                    new String(r.value(), StandardCharsets.ISO_8859_1).contains("forged-1"),
                    "nothing forged reached the scored topic");
        }
    }

    @Test
    void anAgentMayReadNothingNotEvenRaw() throws Exception {
        Properties p = agentProperties();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "agent-reader");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(RAW));
            assertThrows(
                    AuthorizationException.class,
                    () -> pollFor(c, Duration.ofSeconds(30)),
                    "joining a group and reading raw");
        }
        p.remove(ConsumerConfig.GROUP_ID_CONFIG);
        assertCannotReadWithoutGroup(p, RAW, "reading raw without a group");
    }

    @Test
    void wrongOrMissingCredentialsGetNowhere() throws Exception {
        JsonNode r = agentWithPassword(
                "not-the-password",
                "produce",
                RAW,
                "g",
                NODE.resolve("package.json").toString());
        assertEquals("KafkaJSSASLAuthenticationError", r.path("error").asText(), r.toString());

        Properties wrong = mesh.kafkaProperties("katmesh-agent", "not-the-password");
        try (KafkaProducer<String, byte[]> p = producer(wrong)) {
            Exception e = assertThrows(
                    Exception.class,
                    () -> p.send(new ProducerRecord<>(RAW, "g", new byte[1])).get(30, TimeUnit.SECONDS));
            assertTrue(
                    e instanceof AuthenticationException || e.getCause() instanceof AuthenticationException,
                    e.toString());
        }
        // No SASL at all: the broker only speaks SASL, so a plaintext client never gets metadata.
        Properties none = mesh.kafkaProperties("katmesh-agent", null);
        none.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        try (KafkaProducer<String, byte[]> p = producer(none)) {
            Exception e = assertThrows(
                    Exception.class,
                    () -> p.send(new ProducerRecord<>(RAW, "g", new byte[1])).get(30, TimeUnit.SECONDS));
            assertTrue(e instanceof TimeoutException || e.getCause() instanceof TimeoutException, e.toString());
        }
    }

    @Test
    void aServicesUserCannotDoAnotherServicesWork() throws Exception {
        // inference captures sessions into raw, but must not forge scored records or announce versions
        for (String topic : List.of(SCORED, "katmesh.policy.versions")) {
            try (KafkaProducer<String, byte[]> p = producer(mesh.kafkaProperties("katmesh-inference"))) {
                ExecutionException e = assertThrows(
                        ExecutionException.class,
                        () -> p.send(new ProducerRecord<>(topic, "g", new byte[1]))
                                .get(30, TimeUnit.SECONDS),
                        "inference writes " + topic);
                assertInstanceOf(AuthorizationException.class, e.getCause(), e.toString());
            }
        }
        // rollout reads tasks, not the scored trajectories
        assertCannotReadWithoutGroup(mesh.kafkaProperties("katmesh-rollout"), SCORED, "rollout reads scored");
    }

    @Test
    void onlyInferencesCredentialFetchesWeights() throws Exception {
        ManagedChannel channel = ManagedChannelBuilder.forTarget(mesh.status()
                        .path("services")
                        .path("learner")
                        .path("grpc")
                        .asText())
                .usePlaintext()
                .build();
        try {
            WeightsGrpc.WeightsBlockingStub bare =
                    WeightsGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
            assertEquals(
                    Status.Code.UNAUTHENTICATED,
                    code(() -> bare.latest(LatestRequest.getDefaultInstance())),
                    "no credential");
            String apiKey = Files.readString(mesh.dataDir.resolve("api-key")).trim();
            assertEquals(
                    Status.Code.UNAUTHENTICATED,
                    code(() -> bearer(bare, apiKey).latest(LatestRequest.getDefaultInstance())),
                    "an agent's API key is not inference's credential");
            String wrong = mesh.weightsToken() + "x";
            assertEquals(
                    Status.Code.UNAUTHENTICATED,
                    code(() -> bearer(bare, wrong).latest(LatestRequest.getDefaultInstance())),
                    "a wrong token");
            WeightsGrpc.WeightsBlockingStub inference = mesh.weights(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
            assertEquals(
                    Status.Code.FAILED_PRECONDITION,
                    code(() -> inference.latest(LatestRequest.getDefaultInstance())),
                    "inference's credential passes (this mesh's learner has no model yet)");
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void inferenceWantsItsApiKey() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(mesh.http("inference") + "/v1/chat/completions"))
                                .header("content-type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(
                                        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(r.body().contains("\"error\""), "an OpenAI error object: " + r.body());
        ManagedChannel channel = ManagedChannelBuilder.forTarget(mesh.status()
                        .path("services")
                        .path("inference")
                        .path("grpc")
                        .asText())
                .usePlaintext()
                .build();
        try {
            assertEquals(
                    Status.Code.UNAUTHENTICATED,
                    code(() -> InferenceGrpc.newBlockingStub(channel)
                            .withDeadlineAfter(10, TimeUnit.SECONDS)
                            .modelInfo(ModelInfoRequest.getDefaultInstance())));
        } finally {
            channel.shutdownNow();
        }
    }

    // ------------------------------------------------------------------ helpers

    static Properties agentProperties() throws Exception {
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(Path.of(mesh.status()
                .path("kafka")
                .path("security")
                .path("agent_config")
                .asText()))) {
            p.load(in);
        }
        return p;
    }

    static KafkaProducer<String, byte[]> producer(Properties p) {
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.putIfAbsent(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        return new KafkaProducer<>(p);
    }

    /** Assigns partition 0 of {@code topic} (no consumer group) and expects the broker to refuse the read. */
    static void assertCannotReadWithoutGroup(Properties p, String topic, String what) {
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.assign(List.of(new TopicPartition(topic, 0)));
            c.seekToBeginning(c.assignment());
            assertThrows(AuthorizationException.class, () -> pollFor(c, Duration.ofSeconds(30)), what);
        }
    }

    /** Polls until records arrive or an exception (the refusal) is thrown; fails if neither happens. */
    static void pollFor(KafkaConsumer<byte[], byte[]> c, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!c.poll(Duration.ofMillis(500)).isEmpty()) {
                throw new AssertionError("records were read");
            }
        }
        throw new AssertionError("neither records nor a refusal within " + timeout);
    }

    static WeightsGrpc.WeightsBlockingStub bearer(WeightsGrpc.WeightsBlockingStub stub, String token) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static Status.Code code(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode();
        }
    }

    static ScoredTrajectory scored(String id) throws Exception {
        for (ConsumerRecord<String, byte[]> r : mesh.readAll(SCORED, Integer.MAX_VALUE, Duration.ofSeconds(5))) {
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
            if (s.getTrajectory().getTrajectoryId().equals(id)) {
                return s;
            }
        }
        throw new AssertionError(id + " is not on " + SCORED);
    }

    static JsonNode agent(String... args) throws Exception {
        return agentWithPassword(null, args);
    }

    /** Runs the kafkajs agent (integration-tests/src/test/node/kafka-agent.mjs) with the launcher's agent.json. */
    static JsonNode agentWithPassword(String password, String... args) throws Exception {
        assertTrue(
                Files.isDirectory(NODE.resolve("node_modules/kafkajs")),
                "the node clients are not installed: run ./katmesh test, or npm install --no-save --prefix " + NODE);
        List<String> cmd =
                new ArrayList<>(List.of("node", NODE.resolve("kafka-agent.mjs").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment()
                .put(
                        "KATMESH_KAFKA_AGENT",
                        mesh.status()
                                .path("kafka")
                                .path("security")
                                .path("agent_json")
                                .asText());
        if (password != null) {
            pb.environment().put("KATMESH_KAFKA_PASSWORD", password);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "kafka-agent.mjs hung");
        try {
            return JSON.readTree(out.lines().reduce((a, b) -> b).orElse(""));
        } catch (Exception e) {
            throw new AssertionError("kafka-agent.mjs " + List.of(args) + " printed no JSON:\n" + out, e);
        }
    }
}
