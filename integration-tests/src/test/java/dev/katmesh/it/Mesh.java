package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.proto.v1.WeightsGrpc;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A mesh for a test, driven exactly as a user drives it: through the {@code ./katmesh} script of the
 * checkout, with a data directory of its own under integration-tests/target/meshes.
 */
final class Mesh implements AutoCloseable {

    static final Path HOME =
            Path.of(System.getProperty("katmesh.home", "..")).toAbsolutePath().normalize();
    /** The clients in other languages (integration-tests/src/test/node), installed by ./katmesh test. */
    static final Path NODE = HOME.resolve("integration-tests/src/test/node");

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Trusts the CA of every secure mesh a test started ({@link #tlsCa()}). */
    static final HttpClient HTTP = MeshHttp.client(Duration.ofSeconds(10));

    final Path dataDir;
    private final Map<String, String> env;

    private Mesh(Path dataDir, Map<String, String> env) {
        this.dataDir = dataDir;
        this.env = env;
    }

    /** Starts a fresh mesh (its data directory emptied first) with `./katmesh up --detach [upArgs]`. */
    static Mesh up(String name, Map<String, String> env, String... upArgs) throws Exception {
        Path dir = HOME.resolve("integration-tests/target/meshes").resolve(name);
        Mesh mesh = new Mesh(dir, env);
        if (Files.exists(dir.resolve("mesh.json"))) {
            mesh.katmesh(Duration.ofMinutes(2), "down"); // left over by an interrupted run
        }
        deleteRecursively(dir);
        List<String> args = new ArrayList<>(List.of("up", "--detach"));
        args.addAll(List.of(upArgs));
        mesh.katmesh(Duration.ofMinutes(5), args.toArray(String[]::new));
        if (Files.isRegularFile(mesh.tlsCa())) {
            MeshHttp.trust(mesh.tlsCa()); // a secure mesh serves HTTPS with a certificate of its own CA
        }
        return mesh;
    }

    /**
     * A fresh tiny Qwen3 (hidden 32, 2 layers, the fixture's 512-token tokenizer) made with `./katmesh policy
     * init` in integration-tests/target/models/NAME: small enough that a whole mesh trains and serves it in seconds.
     */
    static Path tinyModel(String name, int seed) throws IOException, InterruptedException {
        Path model = HOME.resolve("integration-tests/target/models").resolve(name);
        deleteRecursively(model);
        at(model, Map.of())
                .katmeshNoDataDir(
                        Duration.ofMinutes(2),
                        "policy",
                        "init",
                        "--out",
                        model.toString(),
                        "--tokenizer",
                        PolicyCliIT.FIXTURE.toString(),
                        "--hidden",
                        "32",
                        "--intermediate",
                        "64",
                        "--layers",
                        "2",
                        "--heads",
                        "4",
                        "--kv-heads",
                        "2",
                        "--head-dim",
                        "8",
                        "--seed",
                        Integer.toString(seed));
        return model;
    }

    /** A mesh handle on a data directory, without starting anything. */
    static Mesh at(Path dataDir, Map<String, String> env) {
        return new Mesh(dataDir, env);
    }

    /** Runs `./katmesh ARGS --data-dir DIR` and returns its output; fails the test on a non-zero exit. */
    String katmesh(Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(args));
        cmd.addAll(List.of("--data-dir", dataDir.toString()));
        Files.createDirectories(dataDir);
        return run(timeout, cmd, true);
    }

    /** Runs `./katmesh ARGS` (a command without a mesh) and returns its output; fails on a non-zero exit. */
    String katmeshNoDataDir(Duration timeout, String... args) throws IOException, InterruptedException {
        return run(timeout, List.of(args), true);
    }

    /** Runs `./katmesh ARGS`, expecting it to fail; returns its output. */
    String katmeshExpectingFailure(Duration timeout, String... args) throws IOException, InterruptedException {
        return run(timeout, List.of(args), false);
    }

    private String run(Duration timeout, List<String> args, boolean mustSucceed)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(HOME.resolve("katmesh").toString()));
        cmd.addAll(args);
        Path out = scratchFile("katmesh-cli", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(String.join(" ", cmd) + " did not finish in " + timeout + ":\n" + Files.readString(out));
        }
        String output = Files.readString(out);
        Files.delete(out);
        if (mustSucceed) {
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + output);
        } else {
            assertTrue(p.exitValue() != 0, String.join(" ", cmd) + " should have failed:\n" + output);
        }
        return output;
    }

    JsonNode status() throws IOException, InterruptedException {
        return JSON.readTree(katmesh(Duration.ofSeconds(60), "status", "--json"));
    }

    /** `./katmesh audit --json`: published, scored, dead-lettered and trained ids reconciled. */
    JsonNode audit() throws IOException, InterruptedException {
        String out = katmesh(Duration.ofMinutes(5), "audit", "--json");
        String line = out.lines()
                .filter(l -> l.startsWith("{"))
                .reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("no JSON from audit:\n" + out));
        return JSON.readTree(line);
    }

    /** Endpoints from the last status; ports are kept across restarts, so they are read once. */
    private JsonNode endpoints;

    private JsonNode endpoints() throws IOException, InterruptedException {
        if (endpoints == null) {
            endpoints = status();
        }
        return endpoints;
    }

    String bootstrap() throws IOException, InterruptedException {
        return endpoints().path("kafka").path("bootstrap").asText();
    }

    /** The CA of a secure mesh's certificates (the launcher makes it at the first secure start). */
    Path tlsCa() {
        return dataDir.resolve("secrets/ca.pem");
    }

    String http(String service) throws IOException, InterruptedException {
        return endpoints().path("services").path(service).path("http").asText();
    }

    /** Runs a node client of {@link #NODE} with {@code env} added; its last line of output as JSON. */
    static JsonNode node(Map<String, String> env, String script, String... args) throws Exception {
        assertTrue(
                Files.isDirectory(NODE.resolve("node_modules")),
                "the node clients are not installed: run ./katmesh test, or npm install --no-save --prefix " + NODE);
        List<String> cmd = new ArrayList<>(List.of("node", NODE.resolve(script).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), script + " hung");
        String last = out.lines().reduce((a, b) -> b).orElse("");
        try {
            return JSON.readTree(last);
        } catch (Exception e) {
            throw new AssertionError(script + " " + List.of(args) + " printed no JSON:\n" + out, e);
        }
    }

    /** A service's JSON at {@code url} (its progress, its status). */
    static JsonNode getJson(String url) throws IOException, InterruptedException {
        HttpResponse<String> r =
                HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body());
    }

    /** Sum of a Prometheus counter's series (matching {@code labelFilter}, e.g. {@code source="deployed"}). */
    static double metric(String httpBase, String name, String labelFilter) throws IOException, InterruptedException {
        return PrometheusScrape.sum(httpBase, name, labelFilter);
    }

    /** Polls a service's counter until it reaches {@code expected}; returns the time it took. */
    static Duration awaitMetric(
            String httpBase, String name, String labelFilter, double expected, Duration timeout, String what)
            throws InterruptedException {
        return awaitAtLeast(
                () -> {
                    try {
                        return metric(httpBase, name, labelFilter);
                    } catch (Exception e) {
                        return Double.NaN;
                    }
                },
                expected,
                timeout,
                what);
    }

    /** SIGKILLs a service of this mesh and waits until it is gone; returns its pid. */
    long sigkill(String service) throws IOException, InterruptedException {
        long pid = status().path("services").path(service).path("pid").asLong();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        awaitAtLeast(
                () -> ProcessHandle.of(pid).map(h -> h.isAlive() ? 0.0 : 1.0).orElse(1.0),
                1,
                Duration.ofSeconds(10),
                service + " dies");
        return pid;
    }

    /** Polls until the value reaches {@code expected}; returns the time it took. */
    static Duration awaitAtLeast(DoubleSupplier value, double expected, Duration timeout, String what)
            throws InterruptedException {
        long start = System.nanoTime();
        double last = Double.NaN;
        while (System.nanoTime() - start < timeout.toNanos()) {
            last = value.getAsDouble();
            if (last >= expected) {
                return Duration.ofNanos(System.nanoTime() - start);
            }
            Thread.sleep(100);
        }
        fail(what + ": expected at least " + expected + " within " + timeout.toMillis() + " ms, last saw " + last);
        return timeout;
    }

    /** Publishes a file as one record with the real kcat binary. */
    void kcat(String topic, String key, Map<String, String> headers, Path file)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(
                List.of("kcat", "-P", "-b", bootstrap(), "-t", topic, "-X", "message.max.bytes=16777216"));
        if (key != null) {
            cmd.addAll(List.of("-k", key));
        }
        headers.forEach((k, v) -> cmd.addAll(List.of("-H", k + "=" + v)));
        cmd.add(file.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "kcat failed: " + output);
    }

    /** The credential the learner's Weights service accepts (inference's), kept by the launcher in secrets/weights-token. */
    String weightsToken() throws IOException {
        return Files.readString(dataDir.resolve("secrets/weights-token")).trim();
    }

    /** The learner's Weights stub over {@code channel}, presenting inference's credential as inference does. */
    WeightsGrpc.WeightsBlockingStub weights(Channel channel) throws IOException {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + weightsToken());
        return WeightsGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    /**
     * Client settings of the broker for {@code user} (a user of secure mode, whose password the launcher
     * keeps in secrets/kafka-users.properties), or plain ones when the mesh is not secure.
     */
    Properties kafkaProperties(String user) throws IOException, InterruptedException {
        Properties users = new Properties();
        Path file = dataDir.resolve("secrets/kafka-users.properties");
        if (endpoints().path("kafka").has("security")) {
            try (var in = Files.newBufferedReader(file)) {
                users.load(in);
            }
        }
        return kafkaProperties(user, users.getProperty(user));
    }

    /** Client settings with a given password over TLS (null: plaintext, no SASL, no TLS). */
    Properties kafkaProperties(String user, String password) throws IOException, InterruptedException {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        if (password != null) {
            p.put("security.protocol", "SASL_SSL");
            p.put("ssl.truststore.type", "PEM");
            p.put("ssl.truststore.location", tlsCa().toString());
            p.put("sasl.mechanism", "SCRAM-SHA-512");
            p.put(
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user
                            + "\" password=\"" + password + "\";");
        }
        return p;
    }

    KafkaProducer<String, byte[]> producer() throws IOException, InterruptedException {
        Properties p = kafkaProperties("katmesh-admin");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 16 << 20);
        return new KafkaProducer<>(p);
    }

    void send(String topic, String key, Map<String, String> headers, byte[] value) throws Exception {
        try (KafkaProducer<String, byte[]> producer = producer()) {
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(topic, key, value);
            headers.forEach((k, v) -> r.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
            producer.send(r).get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Reads a topic from the beginning until {@code count} records arrived, or until the timeout passed
     * (or, with count = MAX_VALUE, until a poll finds nothing new after the end was reached).
     */
    List<ConsumerRecord<String, byte[]>> readAll(String topic, int count, Duration timeout)
            throws IOException, InterruptedException {
        Properties p = kafkaProperties("katmesh-admin");
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "it-reader-" + System.nanoTime());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // as the learner reads
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (records.size() < count && System.nanoTime() < deadline) {
                var batch = consumer.poll(Duration.ofMillis(500));
                batch.forEach(records::add);
                if (count == Integer.MAX_VALUE
                        && batch.isEmpty()
                        && !consumer.assignment().isEmpty()
                        && consumer.assignment().stream()
                                .allMatch(tp -> consumer.position(tp)
                                        >= consumer.endOffsets(List.of(tp)).get(tp))) {
                    break;
                }
            }
        }
        return records;
    }

    static String header(ConsumerRecord<?, ?> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
        katmesh(Duration.ofMinutes(2), "down");
    }

    /** A scratch file for one test (a record for kcat, a request body): under target/, gone when the JVM exits. */
    static Path scratchFile(String prefix, String suffix) throws IOException {
        Path dir = Files.createDirectories(HOME.resolve("integration-tests/target/scratch"));
        Path file = Files.createTempFile(dir, prefix, suffix);
        file.toFile().deleteOnExit();
        return file;
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
