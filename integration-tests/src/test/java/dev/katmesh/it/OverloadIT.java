package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.SamplingParams;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * Overload: inference takes 4 running and 4 queued requests; 32 clients (4x what it holds) call the
 * OpenAI API for a minute. Requests beyond capacity are refused with 429 at once, accepted ones keep a
 * latency bounded by the queue (compared with the same requests at capacity, measured just before),
 * the process's memory stays flat, nothing fails otherwise, and afterwards a request is served as fast
 * as before. Then a burst of raw trajectories (consumer lag) drains through reward and learner.
 * Figures go to target/overload.json.
 */
class OverloadIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path MODEL = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
    private static final String KEY = "overload-it-key";

    @Test
    void fourTimesTheCapacityIsRefusedCleanlyAndEverythingRecovers() throws Exception {
        String opts = String.join(
                " ",
                "-Dkatmesh.inference.model-dir=" + MODEL,
                "-Dkatmesh.inference.max-running=4",
                "-Dkatmesh.inference.max-queued=4");
        ObjectNode report = JSON.createObjectNode();
        try (Mesh mesh = Mesh.up("overload", Map.of("KATMESH_INFERENCE_OPTS", opts, "KATMESH_API_KEY", KEY))) {
            String url = mesh.http("inference") + "/v1/chat/completions";
            long pid =
                    mesh.status().path("services").path("inference").path("pid").asLong();
            load(url, 4, Duration.ofSeconds(10), pid); // warm-up (JIT, allocator)
            Load atCapacity = load(url, 4, Duration.ofSeconds(20), pid);
            Load overload = load(url, 32, Duration.ofSeconds(60), pid);
            Load after = load(url, 1, Duration.ofSeconds(10), pid);
            report.set("at_capacity", atCapacity.json());
            report.set("overload_4x", overload.json());
            report.set("after", after.json());

            assertEquals(0, atCapacity.other(), "at capacity nothing fails: " + atCapacity.statuses());
            assertEquals(0, atCapacity.refused(), "4 clients fit the 4 running slots: " + atCapacity.statuses());
            assertTrue(
                    overload.refused() > 0,
                    "beyond 4 running + 4 queued, requests are refused: " + overload.statuses());
            assertEquals(0, overload.other(), "only 200 or 429 under overload: " + overload.statuses());
            assertTrue(overload.ok() > 0, "accepted requests are still served: " + overload.statuses());
            // An accepted request waits behind at most one queue's worth of work: about twice a request at capacity.
            // Judged at the 90th percentile: an unbounded queue moves the whole distribution (32 clients behind 4
            // slots: about 8x), while the 99th also moves with a few stalls of a 2-core machine (one CI run saw p99
            // 1303 ms against 225 ms at capacity; the same commit here 289 against 164).
            assertTrue(
                    overload.p90Ms() <= 4 * atCapacity.p90Ms() + 200,
                    "accepted latency stays bounded: p90 " + overload.p90Ms() + " ms vs " + atCapacity.p90Ms()
                            + " ms at capacity (p99 " + overload.p99Ms() + " vs " + atCapacity.p99Ms() + " ms)");
            assertTrue(
                    overload.refusedP99Ms() < 1000, "a refusal is immediate: p99 " + overload.refusedP99Ms() + " ms");
            assertTrue(
                    overload.maxRssMb() <= atCapacity.maxRssMb() * 1.25 + 128,
                    "memory stays bounded: " + overload.maxRssMb() + " MB under overload vs " + atCapacity.maxRssMb()
                            + " MB at capacity");
            assertEquals(0, after.other() + after.refused(), "everything recovers: " + after.statuses());
            assertTrue(
                    after.p50Ms() <= 2 * atCapacity.p50Ms() + 100,
                    "after the overload a request is served as fast as before: " + after.p50Ms() + " ms vs "
                            + atCapacity.p50Ms() + " ms");

            // Consumer lag: a burst of 2000 trajectories at once drains through the reward to the learner.
            String reward = mesh.http("reward");
            String learner = mesh.http("learner");
            double scoredBefore = Mesh.metric(reward, "katmesh_reward_scored_total", null);
            double receivedBefore = Mesh.metric(learner, "katmesh_learner_trajectories_received_total", null);
            int burst = 2000;
            long t0 = System.nanoTime();
            try (KafkaProducer<String, byte[]> producer = mesh.producer()) {
                for (int i = 0; i < burst; i++) {
                    String json = ("{\"trajectory_id\":\"burst-%d\",\"group_id\":\"burst-g%d\",\"source\":\"deployed\","
                                    + "\"messages\":[{\"role\":\"user\",\"content\":\"n%d\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}")
                            .formatted(i, i / 8, i);
                    ProducerRecord<String, byte[]> r = new ProducerRecord<>(
                            "katmesh.trajectories.raw", "burst-g" + (i / 8), json.getBytes(StandardCharsets.UTF_8));
                    r.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                    producer.send(r);
                }
                producer.flush();
            }
            double produceS = (System.nanoTime() - t0) / 1e9;
            Duration scored = Mesh.awaitMetric(
                    reward,
                    "katmesh_reward_scored_total",
                    null,
                    scoredBefore + burst,
                    Duration.ofMinutes(3),
                    "the reward drains the burst");
            Duration received = Mesh.awaitMetric(
                    learner,
                    "katmesh_learner_trajectories_received_total",
                    null,
                    receivedBefore + burst,
                    Duration.ofMinutes(3),
                    "the learner drains the burst");
            ObjectNode lag = report.putObject("lag_burst");
            lag.put("records", burst);
            lag.put("produce_s", Math.round(produceS * 10) / 10.0);
            lag.put("reward_drained_s", Math.round((produceS + scored.toMillis() / 1e3) * 10) / 10.0);
            lag.put(
                    "learner_drained_s",
                    Math.round((produceS + scored.toMillis() / 1e3 + received.toMillis() / 1e3) * 10) / 10.0);
        }
        System.out.println("overload: " + report.toPrettyString());
        Files.writeString(Mesh.HOME.resolve("integration-tests/target/overload.json"), report.toPrettyString());
    }

    /**
     * Fair shares: one greedy agent (16 clients, held to 2 requests in flight and 3 000 tokens a minute) beside three
     * polite ones (one client each) on the same 4 running + 4 queued slots. The polite agents' latency must stay
     * near what it was without the greedy one and none of their requests refused; the greedy agent's extra
     * requests are refused with 429, code rate_limit_exceeded, naming its limits, with a Retry-After; over gRPC
     * Generate the same quota answers RESOURCE_EXHAUSTED.
     */
    @Test
    void oneGreedyAgentCannotTakeThePoliteOnesShare() throws Exception {
        String keys = "agent=" + KEY + ",greedy=greedy-key,polite-1=polite-key-1,polite-2=polite-key-2,"
                + "polite-3=polite-key-3";
        String opts = String.join(
                " ",
                "-Dkatmesh.inference.model-dir=" + MODEL,
                "-Dkatmesh.inference.max-running=4",
                "-Dkatmesh.inference.max-queued=4",
                "-Dkatmesh.inference.api-keys=" + keys,
                "-Dkatmesh.inference.quotas.agents=greedy:2:3000");
        ObjectNode report = JSON.createObjectNode();
        try (Mesh mesh = Mesh.up("fair-share", Map.of("KATMESH_INFERENCE_OPTS", opts, "KATMESH_API_KEY", KEY))) {
            String url = mesh.http("inference") + "/v1/chat/completions";
            long pid =
                    mesh.status().path("services").path("inference").path("pid").asLong();
            Map<String, Integer> polite = Map.of("polite-key-1", 1, "polite-key-2", 1, "polite-key-3", 1);
            load(url, polite, Duration.ofSeconds(10), pid); // warm-up (JIT, allocator)
            Map<String, Load> alone = load(url, polite, Duration.ofSeconds(20), pid);
            Map<String, Integer> all = new TreeMap<>(polite);
            all.put("greedy-key", 16);
            Map<String, Load> shared = load(url, all, Duration.ofSeconds(40), pid);
            Load greedy = shared.get("greedy-key");
            report.set("greedy", greedy.json());
            for (String key : polite.keySet()) {
                Load before = alone.get(key);
                Load beside = shared.get(key);
                report.putObject(key).<ObjectNode>set("alone", before.json()).set("beside_greedy", beside.json());
                assertEquals(0, beside.refused() + beside.other(), key + " is never refused: " + beside.statuses());
                assertTrue(
                        beside.p90Ms() <= 2 * before.p90Ms() + 250,
                        key + "'s latency is held: p90 " + beside.p90Ms() + " ms beside the greedy agent vs "
                                + before.p90Ms() + " ms alone");
            }
            assertEquals(0, greedy.other(), "the greedy agent gets 200 or 429 only: " + greedy.statuses());
            assertTrue(greedy.ok() > 0, "the greedy agent is served within its share: " + greedy.statuses());
            assertTrue(
                    greedy.refusalCodes().getOrDefault("rate_limit_exceeded", 0L) == greedy.refused(),
                    "its refusals name its own quota, not the server's overload: " + greedy.refusalCodes());
            assertTrue(
                    greedy.maxRetryAfterS() > 1,
                    "the token quota's Retry-After is the time to repay its debt: " + greedy.maxRetryAfterS() + " s");
            double refusedTokens = Mesh.metric(
                    mesh.http("inference"), "katmesh_inference_quota_refused_total", "limit=\"tokens_per_minute\"");
            double refusedConcurrent = Mesh.metric(
                    mesh.http("inference"), "katmesh_inference_quota_refused_total", "limit=\"concurrent\"");
            report.put("refused_tokens_per_minute", refusedTokens);
            report.put("refused_concurrent", refusedConcurrent);
            assertTrue(refusedTokens > 0 && refusedConcurrent > 0, "both limits acted: " + report);

            // gRPC Generate takes the same quota: the greedy agent's burst is refused, a polite call is served.
            String grpc = mesh.status()
                    .path("services")
                    .path("inference")
                    .path("grpc")
                    .asText();
            ManagedChannel channel =
                    ManagedChannelBuilder.forTarget(grpc).usePlaintext().build();
            try {
                GenerateRequest request = GenerateRequest.newBuilder()
                        .addPromptTokenIds(1)
                        .addPromptTokenIds(2)
                        .setSampling(SamplingParams.newBuilder().setMaxNewTokens(24))
                        .build();
                List<Status.Code> greedyCodes = Collections.synchronizedList(new ArrayList<>());
                List<String> greedyMessages = Collections.synchronizedList(new ArrayList<>());
                ExecutorService burst = Executors.newFixedThreadPool(8);
                for (int i = 0; i < 8; i++) {
                    burst.submit(() -> {
                        try {
                            grpcStub(channel, "greedy-key").generate(request);
                            greedyCodes.add(Status.Code.OK);
                        } catch (StatusRuntimeException e) {
                            greedyCodes.add(e.getStatus().getCode());
                            greedyMessages.add(String.valueOf(e.getStatus().getDescription()));
                        }
                    });
                }
                burst.shutdown();
                assertTrue(burst.awaitTermination(60, TimeUnit.SECONDS), "the gRPC burst finishes");
                report.set("grpc_greedy_codes", JSON.valueToTree(greedyCodes));
                assertTrue(
                        greedyCodes.contains(Status.Code.RESOURCE_EXHAUSTED)
                                && greedyMessages.stream().allMatch(m -> m.contains("Agent greedy is over its")),
                        "the greedy agent's gRPC calls are held to its quota: " + greedyCodes + " " + greedyMessages);
                assertTrue(
                        greedyCodes.stream().allMatch(c -> c == Status.Code.OK || c == Status.Code.RESOURCE_EXHAUSTED),
                        "OK or RESOURCE_EXHAUSTED only: " + greedyCodes);
                assertTrue(
                        grpcStub(channel, "polite-key-1").generate(request).getFinished(),
                        "a polite agent's gRPC call is served");
            } finally {
                channel.shutdownNow();
            }
        }
        System.out.println("fair share: " + report.toPrettyString());
        Files.writeString(Mesh.HOME.resolve("integration-tests/target/fair-share.json"), report.toPrettyString());
    }

    private static InferenceGrpc.InferenceBlockingStub grpcStub(ManagedChannel channel, String key) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        return InferenceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                .withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    /** What a load phase saw: status counts, latencies by outcome, and the inference process's peak memory. */
    record Load(
            int clients,
            double seconds,
            Map<Integer, Long> statuses,
            List<Long> okMs,
            List<Long> refusedMs,
            long maxRssMb,
            Map<String, Long> refusalCodes,
            long maxRetryAfterS) {
        long ok() {
            return statuses.getOrDefault(200, 0L);
        }

        long refused() {
            return statuses.getOrDefault(429, 0L);
        }

        long other() {
            return statuses.entrySet().stream()
                    .filter(e -> e.getKey() != 200 && e.getKey() != 429)
                    .mapToLong(Map.Entry::getValue)
                    .sum();
        }

        long p50Ms() {
            return percentile(okMs, 0.5);
        }

        long p90Ms() {
            return percentile(okMs, 0.9);
        }

        long p99Ms() {
            return percentile(okMs, 0.99);
        }

        long refusedP99Ms() {
            return percentile(refusedMs, 0.99);
        }

        ObjectNode json() {
            ObjectNode o = JSON.createObjectNode();
            o.put("clients", clients);
            o.put("seconds", seconds);
            o.put("ok", ok());
            o.put("refused_429", refused());
            o.put("other", other());
            o.put("ok_per_s", Math.round(ok() / seconds * 10) / 10.0);
            o.put("ok_p50_ms", p50Ms());
            o.put("ok_p90_ms", p90Ms());
            o.put("ok_p99_ms", p99Ms());
            o.put("refused_p99_ms", refusedP99Ms());
            o.put("max_rss_mb", maxRssMb);
            o.set("refusal_codes", JSON.valueToTree(refusalCodes));
            o.put("max_retry_after_s", maxRetryAfterS);
            return o;
        }

        private static long percentile(List<Long> xs, double q) {
            if (xs.isEmpty()) {
                return 0;
            }
            List<Long> s = new ArrayList<>(xs);
            Collections.sort(s);
            return s.get(Math.min(s.size() - 1, (int) Math.ceil(q * s.size()) - 1));
        }
    }

    /** {@code clients} closed-loop clients calling the chat API for {@code length}; samples the process's RSS each 200 ms. */
    private static Load load(String url, int clients, Duration length, long pid) throws Exception {
        return load(url, Map.of(KEY, clients), length, pid).get(KEY);
    }

    /**
     * Closed-loop clients calling the chat API for {@code length}, {@code clientsByKey.get(k)} of them with API key k;
     * what each key's clients saw, with the process's peak RSS (sampled each 200 ms).
     */
    private static Map<String, Load> load(String url, Map<String, Integer> clientsByKey, Duration length, long pid)
            throws Exception {
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build(); // as the OpenAI SDKs speak
        Map<String, Map<Integer, Long>> statuses = new ConcurrentHashMap<>();
        Map<String, List<Long>> okMs = new ConcurrentHashMap<>();
        Map<String, List<Long>> refusedMs = new ConcurrentHashMap<>();
        Map<String, Map<String, Long>> codes = new ConcurrentHashMap<>();
        Map<String, AtomicLong> retryAfter = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong maxRss = new AtomicLong();
        int total = clientsByKey.values().stream().mapToInt(Integer::intValue).sum();
        ExecutorService pool = Executors.newFixedThreadPool(total + 1);
        long start = System.nanoTime();
        int client = 0;
        for (Map.Entry<String, Integer> group : clientsByKey.entrySet()) {
            String key = group.getKey();
            statuses.put(key, new ConcurrentHashMap<>());
            okMs.put(key, Collections.synchronizedList(new ArrayList<>()));
            refusedMs.put(key, Collections.synchronizedList(new ArrayList<>()));
            codes.put(key, new ConcurrentHashMap<>());
            retryAfter.put(key, new AtomicLong());
            for (int c = 0; c < group.getValue(); c++, client++) {
                int id = client;
                pool.submit(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        String body = ("{\"model\":\"qwen3-tiny\",\"max_tokens\":24,\"temperature\":0,"
                                        + "\"messages\":[{\"role\":\"user\",\"content\":\"client %d request %d\"}]}")
                                .formatted(id, i);
                        long t0 = System.nanoTime();
                        int status;
                        HttpResponse<String> r = null;
                        try {
                            r = http.send(
                                    HttpRequest.newBuilder(URI.create(url))
                                            .timeout(Duration.ofSeconds(60))
                                            .header("authorization", "Bearer " + key)
                                            .header("content-type", "application/json")
                                            .POST(HttpRequest.BodyPublishers.ofString(body))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString());
                            status = r.statusCode();
                        } catch (Exception e) {
                            status = -1; // a connection error or timeout counts as a failure
                        }
                        long ms = (System.nanoTime() - t0) / 1_000_000;
                        statuses.get(key).merge(status, 1L, Long::sum);
                        if (status == 200) {
                            okMs.get(key).add(ms);
                        } else if (status == 429) {
                            refusedMs.get(key).add(ms);
                            String code = JSON.readTree(r.body())
                                    .path("error")
                                    .path("code")
                                    .asText();
                            codes.get(key).merge(code, 1L, Long::sum);
                            long after =
                                    r.headers().firstValueAsLong("retry-after").orElse(0);
                            retryAfter.get(key).accumulateAndGet(after, Math::max);
                            sleep(50); // a client that honours refusals backs off a little
                        }
                    }
                    return null;
                });
            }
        }
        pool.submit(() -> {
            while (!stop.get()) {
                maxRss.accumulateAndGet(rssMb(pid), Math::max);
                sleep(200);
            }
            return null;
        });
        Thread.sleep(length.toMillis());
        stop.set(true);
        pool.shutdown();
        assertTrue(pool.awaitTermination(90, TimeUnit.SECONDS), "the clients finish");
        double seconds = Math.round((System.nanoTime() - start) / 1e8) / 10.0;
        Map<String, Load> loads = new TreeMap<>();
        for (String key : clientsByKey.keySet()) {
            loads.put(
                    key,
                    new Load(
                            clientsByKey.get(key),
                            seconds,
                            Map.copyOf(statuses.get(key)),
                            List.copyOf(okMs.get(key)),
                            List.copyOf(refusedMs.get(key)),
                            maxRss.get(),
                            Map.copyOf(codes.get(key)),
                            retryAfter.get(key).get()));
        }
        return loads;
    }

    private static long rssMb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D+", "")) / 1024;
                }
            }
        } catch (Exception e) {
            // the process is gone: the status checks fail the test
        }
        return 0;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
