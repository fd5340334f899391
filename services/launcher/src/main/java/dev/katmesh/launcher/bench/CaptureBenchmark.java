package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.AuditCommand;
import dev.katmesh.launcher.demo.ModelFactory;
import dev.katmesh.launcher.mesh.ApiKey;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.proto.wire.Topics;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * What durable capture costs an agent: the same multi-turn sessions served with capture on (each answer completes
 * once its request's record is acknowledged by the broker, acks=all) and off, alternating, on one mesh with a tiny
 * model (so serving is short and the capture's share is visible). Capture on also runs everything downstream —
 * the reward assembles and scores the sessions, the learner reads them — on the same cores, which capture off does
 * not; a third configuration, capture on with the reward and the learner paused (SIGSTOP; the log keeps the records,
 * assembled once they resume), separates inference's and the broker's share from that. The peer is the broker's own: Kafka's
 * ProducerPerformance sending records of the capture log's median size, acks=all, no linger, at the rate the
 * agents' requests came — this machine's latency of one acknowledged write. Then the audit's capture account.
 */
public final class CaptureBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SCRATCH = "katmesh.bench.capture";

    private final MeshSupervisor mesh;
    private final PrintStream log;
    private final HttpClient http = MeshHttp.client(Duration.ofSeconds(10));
    /** The end calls' latencies (ms) of the last configuration served. */
    private final ConcurrentLinkedQueue<Double> lastEnds = new ConcurrentLinkedQueue<>();

    private String openAi; // the OpenAI API's base URL, read after each restart

    public CaptureBenchmark(MeshSupervisor mesh, PrintStream log) {
        this.mesh = mesh;
        this.log = log;
    }

    /** {@code agents} concurrent agents, each {@code sessions} sessions of {@code turns} turns, per configuration. */
    public ObjectNode run(int agents, int sessions, int turns, int repeats) throws Exception {
        Path dir = Files.createTempDirectory("katmesh-bench-capture");
        Path model = dir.resolve("model");
        ModelFactory.init(
                mesh.layout().home().resolve("services/policy/src/test/resources/hf/qwen3-tiny"),
                new ModelFactory.Shape(64, 128, 2, 4, 2, 16, 2048),
                7,
                model);
        ObjectNode o = JSON.createObjectNode();
        o.put("agents", agents).put("sessions_per_agent", sessions).put("turns", turns);
        ArrayNode rows = o.putArray("configurations");
        List<Double> onP50 = new ArrayList<>();
        List<Double> offP50 = new ArrayList<>();
        List<Double> onP99 = new ArrayList<>();
        List<Double> offP99 = new ArrayList<>();
        List<Double> onRate = new ArrayList<>();
        List<Double> offRate = new ArrayList<>();
        List<Double> logWait = new ArrayList<>();
        List<Double> pausedP50 = new ArrayList<>();
        List<Double> pausedRate = new ArrayList<>();
        List<Double> logWaitPaused = new ArrayList<>();
        double rate = 0;
        for (int rep = 0; rep < repeats; rep++) {
            String[] order = rep % 2 == 0
                    ? new String[] {"on", "off", "on-downstream-paused"}
                    : new String[] {"on-downstream-paused", "off", "on"};
            for (String config : order) {
                boolean capture = !config.equals("off");
                boolean paused = config.equals("on-downstream-paused");
                configure(model, capture);
                served(agents, 1, 2, "warm-" + rep + "-" + config); // the restarted JVM's first requests
                if (paused) {
                    signal("STOP");
                }
                double[] ms;
                double seconds;
                try {
                    long t0 = System.nanoTime();
                    ms = served(agents, sessions, turns, rep + "-" + config);
                    seconds = (System.nanoTime() - t0) / 1e9;
                } finally {
                    if (paused) {
                        signal("CONT");
                    }
                }
                Arrays.sort(ms);
                ObjectNode row = rows.addObject().put("capture", config).put("repeat", rep);
                row.put("requests", ms.length);
                row.put("requests_per_s", round(ms.length / seconds));
                row.put("p50_ms", round(at(ms, 0.5)));
                row.put("p99_ms", round(at(ms, 0.99)));
                double[] endMs = lastEnds.stream()
                        .mapToDouble(Double::doubleValue)
                        .sorted()
                        .toArray();
                row.put("end_p50_ms", round(at(endMs, 0.5)));
                row.put("end_max_ms", round(at(endMs, 1.0)));
                if (capture) {
                    // What the answers waited for the broker, measured in inference (its last minute or two).
                    String inference = mesh.status()
                            .path("services")
                            .path("inference")
                            .path("http")
                            .asText();
                    for (String q : List.of("0.5", "0.99")) {
                        double wait = PrometheusScrape.sum(
                                inference, "katmesh_inference_capture_log_seconds", "quantile=\"" + q + "\"");
                        row.put("log_wait_p" + (q.equals("0.5") ? "50" : "99") + "_ms", round(wait * 1000));
                    }
                    (paused ? logWaitPaused : logWait)
                            .add(row.path("log_wait_p50_ms").asDouble());
                }
                if (paused) {
                    pausedP50.add(at(ms, 0.5));
                    pausedRate.add(ms.length / seconds);
                } else {
                    (capture ? onP50 : offP50).add(at(ms, 0.5));
                    (capture ? onP99 : offP99).add(at(ms, 0.99));
                    (capture ? onRate : offRate).add(ms.length / seconds);
                }
                rate = Math.max(rate, ms.length / seconds);
                log.println("bench capture: " + row);
            }
        }
        double on50 = median(onP50);
        double off50 = median(offP50);
        o.put("capture_on_p50_ms", round(on50)).put("capture_off_p50_ms", round(off50));
        o.put("capture_on_p99_ms", round(median(onP99))).put("capture_off_p99_ms", round(median(offP99)));
        o.put("throughput_on_over_off", round(median(onRate) / median(offRate)));
        o.put("downstream_paused_p50_ms", round(median(pausedP50)));
        o.put("throughput_downstream_paused_over_off", round(median(pausedRate) / median(offRate)));

        KafkaClients kafka = mesh.kafkaClients();
        double[] sizes = AuditCommand.read(kafka, Topics.CAPTURE, r -> (double) r.value().length).stream()
                .mapToDouble(Double::doubleValue)
                .sorted()
                .toArray();
        int size = (int) Math.max(100, at(sizes, 0.5));
        o.put("capture_record_bytes_p50", size).put("capture_record_bytes_p99", (int) at(sizes, 0.99));
        double[] broker = brokerAck(kafka, dir, size, (int) Math.ceil(rate));
        o.put("broker_ack_p50_ms", broker[0]).put("broker_ack_p99_ms", broker[1]);
        o.put("added_p50_ms", round(on50 - off50));
        o.put("log_wait_p50_ms", round(median(logWait)));
        o.put("log_wait_p50_over_broker_ack_p50", round(median(logWait) / Math.max(broker[0], 0.5)));
        o.put("log_wait_downstream_paused_p50_ms", round(median(logWaitPaused)));
        o.put("added_p50_over_broker_ack_p50", round((on50 - off50) / Math.max(broker[0], 0.5)));
        o.set("capture_audit", AuditCommand.audit(mesh).path("capture"));
        return o;
    }

    /** Pauses (STOP) or resumes (CONT) the reward and the learner: what runs downstream of the capture log. */
    private void signal(String signal) throws Exception {
        JsonNode services = mesh.status().path("services");
        for (String service : List.of("reward", "learner")) {
            long pid = services.path(service).path("pid").asLong();
            Process p = new ProcessBuilder("kill", "-" + signal, Long.toString(pid))
                    .inheritIO()
                    .start();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " " + service + " (" + pid + ") failed");
            }
        }
    }

    /** Restarts inference with capture on or off; notes its URL. */
    private void configure(Path model, boolean capture) throws Exception {
        mesh.up(
                Duration.ofMinutes(4),
                new MeshSupervisor.Start(
                        model,
                        Map.of("inference", Map.of("katmesh.inference.capture.enabled", Boolean.toString(capture))),
                        Map.of(),
                        false,
                        Map.of()));
        mesh.restart("inference", Duration.ofMinutes(4));
        openAi = mesh.status().path("services").path("inference").path("openai").asText();
    }

    /** The latency of every request of the sessions, in ms. */
    private double[] served(int agents, int sessions, int turns, String tag) throws Exception {
        // Read before a measurement: status probes every service's health, and a paused one only times out.
        String url = openAi;
        String modelName = "model";
        String key = ApiKey.resolve(mesh.layout()).key();
        ConcurrentLinkedQueue<Double> ms = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        lastEnds.clear();
        ConcurrentLinkedQueue<Double> ends = lastEnds;
        List<Thread> threads = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
            int agent = a;
            Thread t = new Thread(() -> {
                for (int s = 0; s < sessions; s++) {
                    String session = "bench-" + tag + "-" + agent + "-" + s;
                    ArrayNode messages = JSON.createArrayNode();
                    for (int turn = 0; turn < turns; turn++) {
                        messages.addObject().put("role", "user").put("content", "Turn " + turn + " of " + session);
                        ObjectNode body =
                                JSON.createObjectNode().put("model", modelName).put("max_tokens", 2);
                        body.put("temperature", 0);
                        body.set("messages", messages);
                        try {
                            long t0 = System.nanoTime();
                            HttpResponse<String> r = http.send(
                                    HttpRequest.newBuilder(URI.create(url + "/chat/completions"))
                                            .header("authorization", "Bearer " + key)
                                            .header("content-type", "application/json")
                                            .header("x-katmesh-session-id", session)
                                            .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
                            ms.add((System.nanoTime() - t0) / 1e6);
                            if (r.statusCode() != 200) {
                                failures.add(r.statusCode() + " " + r.body());
                                return;
                            }
                            messages.add(JSON.readTree(r.body()).at("/choices/0/message"));
                        } catch (Exception e) {
                            failures.add(String.valueOf(e));
                            return;
                        }
                    }
                    try {
                        long t0 = System.nanoTime();
                        http.send(
                                HttpRequest.newBuilder(URI.create(url + "/sessions/" + session + "/end"))
                                        .header("authorization", "Bearer " + key)
                                        .POST(HttpRequest.BodyPublishers.noBody())
                                        .build(),
                                HttpResponse.BodyHandlers.discarding());
                        ends.add((System.nanoTime() - t0) / 1e6);
                    } catch (Exception e) {
                        failures.add(String.valueOf(e));
                    }
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("a benchmark request failed: " + failures.peek());
        }
        return ms.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** Kafka's ProducerPerformance: acks=all, no linger, records of {@code size}, at {@code rate}/s; p50, p99 ms. */
    private static double[] brokerAck(KafkaClients kafka, Path dir, int size, int rate) throws Exception {
        try (Admin admin = kafka.admin()) {
            if (!admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(SCRATCH)) {
                admin.createTopics(List.of(new NewTopic(SCRATCH, 1, (short) 1)))
                        .all()
                        .get(30, TimeUnit.SECONDS);
            }
        }
        Path clientConfig = IngestionBenchmark.clientConfig(kafka, dir);
        String out = IngestionBenchmark.tool(
                "org.apache.kafka.tools.ProducerPerformance",
                "--topic",
                SCRATCH,
                "--num-records",
                Integer.toString(Math.max(200, rate * 10)),
                "--record-size",
                Integer.toString(size),
                "--throughput",
                Integer.toString(Math.max(1, rate)),
                "--producer-props",
                "bootstrap.servers=" + kafka.bootstrap(),
                "acks=all",
                "linger.ms=0",
                "compression.type=zstd",
                "--producer.config",
                clientConfig.toString());
        return new double[] {
            IngestionBenchmark.number(out, "([0-9.]+) ms 50th"), IngestionBenchmark.number(out, "([0-9.]+) ms 99th")
        };
    }

    private static double at(double[] sorted, double q) {
        return sorted.length == 0 ? Double.NaN : sorted[Math.min(sorted.length - 1, (int) (q * sorted.length))];
    }

    private static double median(List<Double> xs) {
        return Measurements.median(xs.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static double round(double x) {
        return Math.round(x * 100) / 100.0;
    }
}
