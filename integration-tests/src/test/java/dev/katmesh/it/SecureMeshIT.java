package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.launcher.mesh.MeshTls;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.ModelInfoRequest;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.WeightsGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Secure mode (`./katmesh up --secure`), the same configuration the launcher gives users: every listener (the
 * broker's, each service's HTTP and gRPC) speaks TLS only, with a certificate of the mesh's own CA, and every
 * Kafka client authenticates with SASL/SCRAM-SHA-512 and may do only what its role needs. The clients of each kind
 * connect with the mesh's CA and are refused with another (Kafka's Java client, kafkajs, the openai SDK, grpc-js,
 * grpc-java, the JDK's HTTP client); the services reach each other over TLS. Each refusal is proven here: agents
 * write raw trajectories and nothing else (with kafkajs, a client in another language, and with Kafka's Java
 * client), wrong or missing credentials get nowhere, a service's user cannot do another's work, only inference's
 * credential fetches weights, inference wants its API key, and rewards and masks sent by an agent are dropped.
 */
class SecureMeshIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path NODE = Mesh.NODE;
    static final String RAW = "katmesh.trajectories.raw";
    static final String SCORED = "katmesh.trajectories.scored";
    static final String API_KEY = "it-secure-key";
    static Mesh mesh;

    @BeforeAll
    static void up() throws Exception {
        // A tiny model that the learner trains on every scored trajectory (a version each step), so that rollout
        // calls inference and inference fetches the learner's versions: both over TLS.
        // Late feedback on, with a short window: the reward's transactional join runs under its own ACLs too.
        Map<String, String> env = new HashMap<>(DeployedAgents.onlineSftMesh("secure-it", API_KEY));
        env.put("KATMESH_REWARD_OPTS", "-Dkatmesh.reward.feedback.window=3s");
        mesh = Mesh.up("secure", env, "--secure", "--feedback-sender", "ci-team-a=team-a-*");
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
        assertEquals("SASL_SSL", security.path("protocol").asText(), security.toString());
        assertEquals(mesh.tlsCa().toString(), security.path("ca").asText(), security.toString());
        assertTrue(mesh.http("inference").startsWith("https://127.0.0.1:"), mesh.http("inference"));
        assertEquals("SCRAM-SHA-512", security.path("sasl_mechanism").asText(), security.toString());
        Path secrets = mesh.dataDir.resolve("secrets");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets)));
        for (String f : List.of(
                "kafka-users.properties",
                "agent.properties",
                "agent.json",
                "feedback.properties",
                "feedback.json",
                "feedback-ci-team-a.properties",
                "feedback-ci-team-a.json",
                "weights-token",
                "ca-key.pem",
                "server-key.pem",
                "broker.pem")) {
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
        assertEquals(mesh.tlsCa().toString(), agent.getProperty("ssl.truststore.location"), agent.toString());
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
    void onlyTheFeedbackUserSendsVerdictsAndTheRewardJoinsThemUnderItsOwnAcls() throws Exception {
        Properties feedback = new Properties();
        try (var in = Files.newBufferedReader(Path.of(mesh.status()
                .path("kafka")
                .path("security")
                .path("feedback_config")
                .asText()))) {
            feedback.load(in);
        }
        assertTrue(feedback.getProperty("sasl.jaas.config").contains("username=\"katmesh-feedback\""));
        byte[] verdict = "{\"value\": 1, \"kind\": \"pr_merged\"}".getBytes(StandardCharsets.UTF_8);
        try (KafkaProducer<String, byte[]> p = producer(agentProperties())) {
            ExecutionException e = assertThrows(
                    ExecutionException.class,
                    () -> p.send(new ProducerRecord<>("katmesh.feedback", "s-1", verdict))
                            .get(30, TimeUnit.SECONDS),
                    "an agent rates its own session");
            assertInstanceOf(AuthorizationException.class, e.getCause(), e.toString());
        }
        Properties asFeedback = new Properties();
        asFeedback.putAll(feedback);
        try (KafkaProducer<String, byte[]> p = producer(asFeedback)) {
            ExecutionException e = assertThrows(
                    ExecutionException.class,
                    () -> p.send(new ProducerRecord<>(RAW, "g", new byte[1])).get(30, TimeUnit.SECONDS),
                    "the feedback user publishes a trajectory");
            assertInstanceOf(AuthorizationException.class, e.getCause(), e.toString());
        }
        asFeedback = new Properties();
        asFeedback.putAll(feedback);
        try (KafkaProducer<String, byte[]> p = producer(asFeedback)) {
            p.send(new ProducerRecord<>("katmesh.feedback", "secure-no-such-session", verdict))
                    .get(30, TimeUnit.SECONDS);
        }
        // The reward takes it into its join (a transaction), holds it for the window, and dead-letters it: it matches
        // no session.
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        String reason = null;
        while (reason == null && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.dlq", Integer.MAX_VALUE, Duration.ofSeconds(20))) {
                if ("secure-no-such-session".equals(r.key())) {
                    reason = Mesh.header(r, "katmesh-reject-reason");
                }
            }
        }
        assertEquals("UNMATCHED_FEEDBACK", reason, "the verdict joined and dead-lettered by the reward");
    }

    /** A sender scoped to team a's agents: its own topic and user, and its verdicts on team b's sessions refused. */
    @Test
    void aScopedSenderWritesItsOwnTopicAndRatesOnlyItsAgentsSessions() throws Exception {
        Properties ci = new Properties();
        try (var in = Files.newBufferedReader(mesh.dataDir.resolve("secrets/feedback-ci-team-a.properties"))) {
            ci.load(in);
        }
        assertTrue(ci.getProperty("sasl.jaas.config").contains("username=\"katmesh-feedback-ci-team-a\""));
        String own = "katmesh.feedback.from.ci-team-a";
        byte[] merged = "{\"value\": 1, \"kind\": \"pr_merged\"}".getBytes(StandardCharsets.UTF_8);
        Properties shared = new Properties();
        try (var in = Files.newBufferedReader(mesh.dataDir.resolve("secrets/feedback.properties"))) {
            shared.load(in);
        }
        for (Map.Entry<Properties, String> refused :
                Map.of(copy(ci), "katmesh.feedback", shared, own).entrySet()) {
            try (KafkaProducer<String, byte[]> p = producer(refused.getKey())) {
                ExecutionException e = assertThrows(
                        ExecutionException.class,
                        () -> p.send(new ProducerRecord<>(refused.getValue(), "s", merged))
                                .get(30, TimeUnit.SECONDS),
                        "a sender writes another's topic: " + refused.getValue());
                assertInstanceOf(AuthorizationException.class, e.getCause(), e.toString());
            }
        }
        try (KafkaProducer<String, byte[]> agent = producer(agentProperties())) {
            for (String team : List.of("a", "b")) {
                agent.send(new ProducerRecord<>(
                                RAW,
                                null,
                                "secure-team-" + team,
                                FeedbackIT.deployed("secure-team-" + team, "team-" + team + "-bot"),
                                new RecordHeaders().add("content-type", "application/x-protobuf".getBytes())))
                        .get(30, TimeUnit.SECONDS);
            }
        }
        try (KafkaProducer<String, byte[]> p = producer(copy(ci))) {
            for (String team : List.of("a", "b")) {
                p.send(new ProducerRecord<>(own, "secure-team-" + team, merged)).get(30, TimeUnit.SECONDS);
            }
        }
        Map<String, ScoredTrajectory> scored = new HashMap<>();
        String reason = null;
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while ((scored.size() < 2 || reason == null) && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, byte[]> r : mesh.readAll(SCORED, Integer.MAX_VALUE, Duration.ofSeconds(10))) {
                ScoredTrajectory st = ScoredTrajectory.parseFrom(r.value());
                if (st.getTrajectory().getSessionId().startsWith("secure-team-")) {
                    scored.put(st.getTrajectory().getSessionId(), st);
                }
            }
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.dlq", Integer.MAX_VALUE, Duration.ofSeconds(10))) {
                if ("secure-team-b".equals(r.key())) {
                    reason = Mesh.header(r, "katmesh-reject-reason");
                    assertEquals(own, Mesh.header(r, "dead-letter-topic"), "the dead letter names the sender's topic");
                }
            }
        }
        assertEquals(Set.of("secure-team-a", "secure-team-b"), scored.keySet(), "both sessions scored");
        ScoredTrajectory a = scored.get("secure-team-a");
        assertEquals(1, a.getFeedbackCount(), "team a's session took ci's verdict");
        assertEquals("ci-team-a", a.getFeedback(0).getSender());
        assertTrue(
                a.getFeedback(0).getPosition().startsWith("ci-team-a:"),
                a.getFeedback(0).getPosition());
        assertEquals(0, scored.get("secure-team-b").getFeedbackCount(), "ci may not rate team b's session");
        assertEquals("FEEDBACK_OUT_OF_SCOPE", reason, "ci's verdict on team b's session, dead-lettered with why");
    }

    static Properties copy(Properties p) {
        Properties c = new Properties();
        c.putAll(p);
        return c;
    }

    @Test
    void aServicesUserCannotDoAnotherServicesWork() throws Exception {
        // inference logs the requests it serves to the capture log; it writes no trajectory, scored record or version
        for (String topic : List.of(RAW, SCORED, "katmesh.policy.versions")) {
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
        ManagedChannel channel = tls(grpcTarget("learner"), mesh.tlsCa());
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
            Status.Code passed = code(() -> inference.latest(LatestRequest.getDefaultInstance()));
            assertTrue(
                    passed == Status.Code.OK || passed == Status.Code.FAILED_PRECONDITION,
                    "inference's credential passes (a version, or none yet): " + passed);
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void inferenceWantsItsApiKey() throws Exception {
        HttpResponse<String> r = Mesh.HTTP.send(
                HttpRequest.newBuilder(URI.create(mesh.http("inference") + "/v1/chat/completions"))
                        .header("content-type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(r.body().contains("\"error\""), "an OpenAI error object: " + r.body());
        ManagedChannel channel = tls(grpcTarget("inference"), mesh.tlsCa());
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

    @Test
    void everyListenerSpeaksTlsOnlyAndAClientWithAnotherCaIsRefused() throws Exception {
        Path ca = mesh.tlsCa();
        Path wrongCa = MeshTls.ensure(Files.createDirectories(mesh.dataDir.resolveSibling("secure-wrong-ca")))
                .ca();
        String https = mesh.http("inference");
        String openai =
                mesh.status().path("services").path("inference").path("openai").asText();

        // HTTP: plain HTTP gets no answer; the JDK's CAs alone do not trust the mesh's certificate.
        HttpRequest health = HttpRequest.newBuilder(URI.create(https + "/q/health"))
                .timeout(Duration.ofSeconds(10))
                .build();
        assertThrows(
                IOException.class,
                () -> HttpClient.newHttpClient()
                        .send(
                                HttpRequest.newBuilder(URI.create(https.replace("https://", "http://") + "/q/health"))
                                        .timeout(Duration.ofSeconds(10))
                                        .build(),
                                HttpResponse.BodyHandlers.ofString()),
                "plain HTTP to the HTTPS port");
        IOException untrusted = assertThrows(
                IOException.class,
                () -> HttpClient.newHttpClient().send(health, HttpResponse.BodyHandlers.ofString()),
                "a client without the mesh's CA");
        assertInstanceOf(SSLHandshakeException.class, untrusted, untrusted.toString());
        assertEquals(
                200,
                Mesh.HTTP.send(health, HttpResponse.BodyHandlers.ofString()).statusCode());

        // The openai SDK, with the mesh's CA as Node's users add one (NODE_EXTRA_CA_CERTS), and with another.
        Map<String, String> sdk =
                Map.of("KATMESH_OPENAI_URL", openai, "KATMESH_API_KEY", API_KEY, "KATMESH_MODEL", "katmesh");
        JsonNode models = Mesh.node(with(sdk, "NODE_EXTRA_CA_CERTS", ca.toString()), "openai-client.mjs", "models");
        assertFalse(models.path("ids").isEmpty(), "the openai SDK lists the models over HTTPS: " + models);
        JsonNode refused =
                Mesh.node(with(sdk, "NODE_EXTRA_CA_CERTS", wrongCa.toString()), "openai-client.mjs", "models");
        assertTrue(refused.path("error").asText().contains("Connection error"), refused.toString());
        assertTrue(refused.path("cause").asText().contains("certificate"), "a certificate error: " + refused);

        // gRPC: grpc-js and grpc-java stream tokens with the mesh's CA; another CA ends in UNAVAILABLE.
        String grpc = grpcTarget("inference");
        String protos = Mesh.HOME.resolve("proto/src/main/proto").toString();
        JsonNode js = Mesh.node(
                Map.of("KATMESH_GRPC_CA", ca.toString(), "KATMESH_API_KEY", API_KEY),
                "grpc-client.mjs",
                grpc,
                protos,
                "1",
                "2",
                "3");
        assertEquals(10, js.path("token_ids").size(), "grpc-js streams over TLS: " + js);
        JsonNode jsRefused = Mesh.node(
                Map.of("KATMESH_GRPC_CA", wrongCa.toString(), "KATMESH_API_KEY", API_KEY),
                "grpc-client.mjs",
                grpc,
                protos,
                "1");
        assertEquals(Status.Code.UNAVAILABLE.value(), jsRefused.path("code").asInt(), jsRefused.toString());
        for (Path trusted : List.of(wrongCa)) {
            ManagedChannel channel = tls(grpc, trusted);
            try {
                assertEquals(
                        Status.Code.UNAVAILABLE,
                        code(() -> InferenceGrpc.newBlockingStub(channel)
                                .withDeadlineAfter(10, TimeUnit.SECONDS)
                                .modelInfo(ModelInfoRequest.getDefaultInstance())),
                        "grpc-java with another CA");
            } finally {
                channel.shutdownNow();
            }
        }

        // Kafka: the agent's settings file (SASL_SSL, the mesh's CA) writes raw; another CA, or no TLS, gets nowhere.
        try (KafkaProducer<String, byte[]> p = producer(agentProperties())) {
            p.send(new ProducerRecord<>(RAW, "group-tls", """
                            {"trajectory_id":"secure-java-1","group_id":"group-tls","source":"deployed",
                             "messages":[{"role":"user","content":"Say 1."},{"role":"assistant","content":"1"}],
                             "outcome":{"submitted":true,"kind":"answer","content":"1"}}
                            """.getBytes(StandardCharsets.UTF_8)))
                    .get(30, TimeUnit.SECONDS);
        }
        Properties otherCa = agentProperties();
        otherCa.put("ssl.truststore.location", wrongCa.toString());
        otherCa.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "10000");
        try (KafkaProducer<String, byte[]> p = producer(otherCa)) {
            Exception e = assertThrows(
                    Exception.class,
                    () -> p.send(new ProducerRecord<>(RAW, "g", new byte[1])).get(30, TimeUnit.SECONDS));
            assertTrue(
                    e instanceof SslAuthenticationException || e.getCause() instanceof SslAuthenticationException,
                    "the Java client with another CA: " + e);
        }
        Properties noTls = agentProperties();
        noTls.put("security.protocol", "SASL_PLAINTEXT");
        noTls.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        try (KafkaProducer<String, byte[]> p = producer(noTls)) {
            Exception e = assertThrows(
                    Exception.class,
                    () -> p.send(new ProducerRecord<>(RAW, "g", new byte[1])).get(30, TimeUnit.SECONDS));
            assertTrue(e instanceof TimeoutException || e.getCause() instanceof TimeoutException, e.toString());
        }
        JsonNode kafkajs = Mesh.node(
                Map.of("KATMESH_KAFKA_AGENT", agentJson(), "KATMESH_KAFKA_CA", wrongCa.toString()),
                "kafka-agent.mjs",
                "produce",
                RAW,
                "g",
                NODE.resolve("package.json").toString());
        assertFalse(kafkajs.path("ok").asBoolean(), "kafkajs with another CA: " + kafkajs);
        assertTrue(kafkajs.toString().contains("certificate"), "a certificate error: " + kafkajs);
    }

    @Test
    void theServicesReachEachOtherOverTls() throws Exception {
        // rollout -> inference (gRPC): the tasks' episodes are generated and published.
        DeployedAgents.tasks(mesh, 11);
        Mesh.awaitMetric(
                mesh.http("rollout"),
                "katmesh_rollout_trajectories_published_total",
                null,
                1,
                Duration.ofMinutes(3),
                "rollout generates with inference's gRPC over TLS");
        // learner -> inference (Weights, gRPC): the versions the learner publishes are served.
        Mesh.awaitMetric(
                mesh.http("inference"),
                "katmesh_inference_policy_version",
                null,
                1,
                Duration.ofMinutes(3),
                "inference fetches the learner's versions over TLS");
    }

    // ------------------------------------------------------------------ helpers

    static String grpcTarget(String service) throws Exception {
        return mesh.status().path("services").path(service).path("grpc").asText();
    }

    /** A gRPC channel over TLS that trusts {@code ca} (and checks the server's name, 127.0.0.1). */
    static ManagedChannel tls(String target, Path ca) throws IOException {
        return Grpc.newChannelBuilder(
                        target,
                        TlsChannelCredentials.newBuilder()
                                .trustManager(ca.toFile())
                                .build())
                .build();
    }

    static Map<String, String> with(Map<String, String> env, String key, String value) {
        Map<String, String> out = new HashMap<>(env);
        out.put(key, value);
        return out;
    }

    static String agentJson() throws Exception {
        return mesh.status().path("kafka").path("security").path("agent_json").asText();
    }

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
        Map<String, String> env = new HashMap<>(Map.of("KATMESH_KAFKA_AGENT", agentJson()));
        if (password != null) {
            env.put("KATMESH_KAFKA_PASSWORD", password);
        }
        return Mesh.node(env, "kafka-agent.mjs", args);
    }
}
