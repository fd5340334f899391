package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.GenerateResponse;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.ModelInfoRequest;
import dev.katmesh.proto.v1.TokenizeRequest;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The inference service as a process in the embedded mesh, through its real clients: a Java gRPC
 * client, the official openai npm SDK, @grpc/grpc-js, and raw HTTP for session capture. Greedy
 * results are checked token for token against the same checkpoint run locally.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InferenceIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path MODEL = Mesh.HOME.resolve("integration-tests/target/models/inference-it");
    static final Path NODE = Mesh.NODE;
    static final int[] PROMPT = {1, 89, 266, 86, 203, 17, 45};

    Mesh mesh;
    DecoderModel local;
    ManagedChannel channel;
    InferenceGrpc.InferenceBlockingStub blocking;
    InferenceGrpc.InferenceStub async;
    String openai;
    String key;
    String model = "inference-it";

    @BeforeAll
    void start() throws Exception {
        Mesh.tinyModel("inference-it", 5);
        // Small limits, so that overload and cancellation are quick to provoke.
        String opts = String.join(
                " ",
                "-Dkatmesh.inference.model-dir=" + MODEL,
                "-Dkatmesh.inference.max-running=4",
                "-Dkatmesh.inference.max-queued=4");
        mesh = Mesh.up("inference", Map.of("KATMESH_INFERENCE_OPTS", opts, "KATMESH_API_KEY", "it-secret-key"));
        key = "it-secret-key";
        local = DecoderModel.load(MODEL, ModelConfig.read(MODEL.resolve("config.json")), Device.cpu());
        JsonNode inference = mesh.status().path("services").path("inference");
        openai = inference.path("openai").asText();
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        channel = ManagedChannelBuilder.forTarget(inference.path("grpc").asText())
                .usePlaintext()
                .build();
        blocking =
                InferenceGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
        async = InferenceGrpc.newStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    @AfterAll
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (local != null) {
            local.close();
        }
        if (mesh != null) {
            mesh.close();
        }
    }

    static GenerateRequest greedy(int[] prompt, int max) {
        GenerateRequest.Builder b = GenerateRequest.newBuilder()
                .setSampling(dev.katmesh.proto.v1.SamplingParams.newBuilder()
                        .setMaxNewTokens(max)
                        .setTemperature(0));
        for (int id : prompt) {
            b.addPromptTokenIds(id);
        }
        return b.build();
    }

    Generation expected(int[] prompt, int max) {
        return new Generator(local).generate(prompt, SamplingParams.greedy(max));
    }

    static int[] ids(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void generateAndGenerateStreamGiveTheLocalModelsTokens() {
        Generation want = expected(PROMPT, 12);
        GenerateResponse r = blocking.withDeadlineAfter(60, TimeUnit.SECONDS).generate(greedy(PROMPT, 12));
        assertArrayEquals(want.tokens(), ids(r.getTokenIdsList()), "Generate returns the checkpoint's greedy tokens");
        for (int i = 0; i < want.logprobs().length; i++) {
            assertEquals(want.logprobs()[i], r.getLogprobs(i), 1e-4, "log-prob " + i);
        }
        assertEquals(want.tokens().length, r.getTokenPolicyVersionsCount(), "a version per token");
        assertTrue(r.getFinished());
        assertEquals(want.finishReason(), r.getFinishReason());
        assertArrayEquals(PROMPT, ids(r.getPromptTokenIdsList()));

        List<Integer> streamed = new ArrayList<>();
        int messages = 0;
        GenerateResponse last = null;
        for (Iterator<GenerateResponse> it =
                        blocking.withDeadlineAfter(60, TimeUnit.SECONDS).generateStream(greedy(PROMPT, 12));
                it.hasNext(); ) {
            last = it.next();
            streamed.addAll(last.getTokenIdsList());
            messages++;
        }
        assertArrayEquals(want.tokens(), ids(streamed), "GenerateStream streams the same tokens");
        assertEquals(want.tokens().length + 1, messages, "one message per token, then the finish");
        assertTrue(last.getFinished());

        // Chat messages in: the prompt is the chat template's rendering, as Tokenize reports it.
        ChatMessage user = ChatMessage.newBuilder()
                .setRole("user")
                .setContent("Write a function that adds two numbers.")
                .build();
        GenerateResponse chat = blocking.generate(GenerateRequest.newBuilder()
                .addMessages(user)
                .setSampling(dev.katmesh.proto.v1.SamplingParams.newBuilder().setMaxNewTokens(4))
                .build());
        List<Integer> tokenized = blocking.tokenize(TokenizeRequest.newBuilder()
                        .addMessages(user)
                        .setAddGenerationPrompt(true)
                        .build())
                .getTokenIdsList();
        assertEquals(tokenized, chat.getPromptTokenIdsList());
        assertEquals(
                "inference-it",
                blocking.modelInfo(ModelInfoRequest.getDefaultInstance()).getModelName());
    }

    @Test
    void concurrentStreamsEachGetWhatTheyWouldGetAlone() throws Exception {
        List<CompletableFuture<List<Integer>>> calls = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int salt = i * 11;
            int[] prompt = IntStream.range(0, 3 + 4 * i)
                    .map(j -> 10 + (j * 37 + salt) % 400)
                    .toArray();
            prompts.add(prompt);
            calls.add(stream(greedy(prompt, 8 + 5 * i)));
        }
        for (int i = 0; i < calls.size(); i++) {
            assertArrayEquals(
                    expected(prompts.get(i), 8 + 5 * i).tokens(),
                    ids(calls.get(i).get(60, TimeUnit.SECONDS)),
                    "stream " + i);
        }
    }

    CompletableFuture<List<Integer>> stream(GenerateRequest request) {
        CompletableFuture<List<Integer>> done = new CompletableFuture<>();
        List<Integer> tokens = new ArrayList<>();
        async.withDeadlineAfter(120, TimeUnit.SECONDS).generateStream(request, new StreamObserver<>() {
            @Override
            public void onNext(GenerateResponse r) {
                tokens.addAll(r.getTokenIdsList());
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                done.complete(tokens);
            }
        });
        return done;
    }

    @Test
    void overloadIsRefusedAtOnceAndDeadlinesAndCancellationsFreeTheirSlots() throws Exception {
        String http = mesh.http("inference");
        double cancelledBefore =
                Mesh.metric(http, "katmesh_inference_sequences_finished_total", "finish=\"cancelled\"");
        // 4 running + 4 queued fill the service; more are refused at once.
        List<Context.CancellableContext> contexts = new ArrayList<>();
        List<CompletableFuture<List<Integer>>> held = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Context.CancellableContext ctx = Context.current().withCancellation();
            contexts.add(ctx);
            held.add(ctx.call(() -> stream(greedy(PROMPT, 3000)))); // greedy loops: no early end-of-sequence
        }
        Mesh.awaitAtLeast(
                () -> {
                    try {
                        return Mesh.metric(http, "katmesh_inference_queue_depth", null);
                    } catch (Exception e) {
                        return Double.NaN;
                    }
                },
                4,
                Duration.ofSeconds(30),
                "4 streams run and 4 wait ("
                        + held.stream().map(f -> f.isDone() ? "done" : "open").toList() + ")");
        String before = "running " + Mesh.metric(http, "katmesh_inference_batch_running", null) + ", queued "
                + Mesh.metric(http, "katmesh_inference_queue_depth", null);
        long t0 = System.nanoTime();
        StatusRuntimeException refused = Assertions.assertThrows(
                StatusRuntimeException.class,
                () -> blocking.withDeadlineAfter(30, TimeUnit.SECONDS).generate(greedy(PROMPT, 4)));
        long refusedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(
                Status.Code.RESOURCE_EXHAUSTED,
                refused.getStatus().getCode(),
                refused.getStatus() + " (before: " + before + ")");
        assertTrue(refusedMs < 5000, "refused at once, took " + refusedMs + " ms");
        // The OpenAI API refuses the same way: 429 in OpenAI's error shape, with Retry-After.
        HttpResponse<String> busy = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(openai + "/chat/completions"))
                                .header("Authorization", "Bearer " + key)
                                .header("Content-Type", "application/json")
                                .POST(
                                        HttpRequest.BodyPublishers.ofString(
                                                "{\"model\":\"inference-it\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals(429, busy.statusCode(), busy.body());
        assertEquals(
                "overloaded",
                JSON.readTree(busy.body()).path("error").path("code").asText(),
                busy.body());
        assertEquals("1", busy.headers().firstValue("Retry-After").orElse(""));
        contexts.forEach(c -> c.cancel(null));
        try {
            Mesh.awaitMetric(
                    http,
                    "katmesh_inference_sequences_finished_total",
                    "finish=\"cancelled\"",
                    cancelledBefore + 8,
                    Duration.ofSeconds(30),
                    "cancelled streams end and free their slots");
        } catch (AssertionError e) {
            throw new AssertionError(
                    e.getMessage() + "; client side: "
                            + held.stream()
                                    .map(f -> f.isDone() ? (f.isCompletedExceptionally() ? "failed" : "done") : "open")
                                    .toList()
                            + "; server: running " + Mesh.metric(http, "katmesh_inference_batch_running", null)
                            + ", finished stop "
                            + Mesh.metric(http, "katmesh_inference_sequences_finished_total", "finish=\"stop\"")
                            + ", length "
                            + Mesh.metric(http, "katmesh_inference_sequences_finished_total", "finish=\"length\""),
                    e);
        }
        // The slots are free again: a request goes through at once, and a short deadline is honoured.
        assertEquals(
                4,
                blocking.withDeadlineAfter(30, TimeUnit.SECONDS)
                        .generate(greedy(PROMPT, 4))
                        .getTokenIdsCount());
        StatusRuntimeException late = Assertions.assertThrows(StatusRuntimeException.class, () -> {
            Iterator<GenerateResponse> it =
                    blocking.withDeadlineAfter(150, TimeUnit.MILLISECONDS).generateStream(greedy(PROMPT, 3000));
            it.forEachRemaining(r -> {});
        });
        assertEquals(Status.Code.DEADLINE_EXCEEDED, late.getStatus().getCode());
        Mesh.awaitAtLeast(
                () -> {
                    try {
                        return Mesh.metric(http, "katmesh_inference_sequences_finished_total", "finish=\"cancelled\"")
                                + Mesh.metric(
                                        http, "katmesh_inference_sequences_finished_total", "finish=\"deadline\"");
                    } catch (Exception e) {
                        return Double.NaN;
                    }
                },
                cancelledBefore + 9,
                Duration.ofSeconds(30),
                "the late stream ends on the server too");
    }

    @Test
    void callsWithoutAKeyAreRefusedButHealthIsOpen() {
        InferenceGrpc.InferenceBlockingStub anonymous = InferenceGrpc.newBlockingStub(channel);
        StatusRuntimeException e =
                Assertions.assertThrows(StatusRuntimeException.class, () -> anonymous.generate(greedy(PROMPT, 2)));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        assertEquals(
                HealthCheckResponse.ServingStatus.SERVING,
                HealthGrpc.newBlockingStub(channel)
                        .check(HealthCheckRequest.getDefaultInstance())
                        .getStatus());
    }

    @Test
    void aCorpusOfBadRequestsGetsClearErrorsAndTheServiceStaysUp() throws Exception {
        String base = mesh.http("inference");
        HttpClient http = HttpClient.newHttpClient();
        List<String> failures = new ArrayList<>();
        List<BadRequestCorpus.Http> httpCases = BadRequestCorpus.http(key, model);
        for (BadRequestCorpus.Http c : httpCases) {
            HttpRequest.Builder r =
                    HttpRequest.newBuilder(URI.create(base + c.path())).timeout(Duration.ofSeconds(60));
            if (c.authorization() != null) {
                r.header("authorization", c.authorization());
            }
            if (c.contentType() != null) {
                r.header("content-type", c.contentType());
            }
            r.method(
                    c.method(),
                    c.body() == null
                            ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofByteArray(c.body()));
            HttpResponse<String> res = http.send(r.build(), HttpResponse.BodyHandlers.ofString());
            boolean statusOk = c.status() == 0
                    ? res.statusCode() >= 400 && res.statusCode() < 500
                    : res.statusCode() == c.status();
            String message = "";
            if (c.openAiError()) {
                try {
                    JsonNode error = JSON.readTree(res.body()).path("error");
                    message = error.path("message").asText("");
                    statusOk &=
                            !message.isBlank() && !error.path("type").asText("").isBlank();
                } catch (Exception e) {
                    statusOk = false;
                }
            }
            if (!statusOk) {
                failures.add(c.name() + ": expected " + (c.status() == 0 ? "4xx" : c.status())
                        + (c.openAiError() ? " with an OpenAI error" : "") + ", got " + res.statusCode() + " "
                        + res.body().substring(0, Math.min(200, res.body().length())));
            }
        }
        List<BadRequestCorpus.Grpc> grpcCases = BadRequestCorpus.grpc();
        for (BadRequestCorpus.Grpc c : grpcCases) {
            try {
                blocking.withDeadlineAfter(60, TimeUnit.SECONDS).generate(c.request());
                failures.add("grpc " + c.name() + ": accepted");
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code == Status.Code.INTERNAL
                        || code == Status.Code.UNKNOWN
                        || code == Status.Code.DEADLINE_EXCEEDED
                        || e.getStatus().getDescription() == null
                        || e.getStatus().getDescription().isBlank()) {
                    failures.add("grpc " + c.name() + ": " + e.getStatus());
                }
            }
        }
        // Bytes that are not a GenerateRequest at all: refused by the server's parser, which stays up.
        MethodDescriptor<byte[], byte[]> raw = InferenceGrpc.getGenerateMethod().toBuilder(
                        new RawBytes(), new RawBytes())
                .build();
        Metadata auth = new Metadata();
        auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
        Channel authed = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(auth));
        for (byte[] garbage :
                List.of(new byte[] {(byte) 0xFF, (byte) 0xFF, 0x01}, new byte[] {0x0A, 0x7F, 0x01}, new byte[] {
                    0x12, (byte) 0x90
                })) {
            try {
                ClientCalls.blockingUnaryCall(
                        authed, raw, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), garbage);
                failures.add("grpc garbage bytes accepted");
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code == Status.Code.DEADLINE_EXCEEDED
                        || code == Status.Code.UNAVAILABLE
                        || code == Status.Code.UNAUTHENTICATED) {
                    failures.add("grpc garbage bytes: " + e.getStatus());
                }
            }
        }
        System.out.printf(
                "bad requests: %d HTTP, %d gRPC (+3 unparseable), %d not answered as expected%n",
                httpCases.size(), grpcCases.size(), failures.size());
        assertTrue(
                httpCases.size() >= 50 && grpcCases.size() >= 50, "the corpus holds at least 50 kinds per entry point");
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        // Nothing crashed: healthy, and a good request is served.
        assertEquals(
                HealthCheckResponse.ServingStatus.SERVING,
                HealthGrpc.newBlockingStub(channel)
                        .check(HealthCheckRequest.getDefaultInstance())
                        .getStatus());
        assertEquals(
                expected(PROMPT, 3).tokens().length,
                blocking.generate(greedy(PROMPT, 3)).getTokenIdsCount());
    }

    /** A marshaller that passes bytes through, to send what no client library would. */
    static final class RawBytes implements MethodDescriptor.Marshaller<byte[]> {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Test
    void theOpenAiSdkAndGrpcJsWork() throws Exception {
        JsonNode models = node("openai-client.mjs", "models");
        assertEquals("inference-it", models.path("ids").path(0).asText(), models.toString());

        JsonNode chat = node("openai-client.mjs", "chat");
        assertEquals("length", chat.path("finish_reason").asText(), chat.toString());
        assertEquals(12, chat.path("usage").path("completion_tokens").asInt(), chat.toString());
        assertEquals(12, chat.path("logprobs").size(), chat.toString());
        JsonNode stream = node("openai-client.mjs", "stream");
        assertEquals(
                chat.path("content").asText(),
                stream.path("content").asText(),
                "streamed text = the whole answer (greedy): " + stream);
        assertEquals(12, stream.path("usage").path("completion_tokens").asInt(), "include_usage: " + stream);
        JsonNode tools = node("openai-client.mjs", "tools");
        assertTrue(
                tools.has("tool_calls") && !tools.has("error"),
                "a conversation with tool calls and results is accepted: " + tools);
        JsonNode badKey = node("openai-client.mjs", "bad-key");
        assertEquals(401, badKey.path("status").asInt(), badKey.toString());
        assertEquals("invalid_api_key", badKey.path("code").asText(), badKey.toString());
        JsonNode bad = node("openai-client.mjs", "bad-request");
        assertEquals(400, bad.path("status").asInt(), bad.toString());
        assertEquals("temperature", bad.path("param").asText(), bad.toString());
        JsonNode kwargs = node("openai-client.mjs", "template-kwargs");
        assertEquals(1, kwargs.path("ok").asInt(), "a chat with chat_template_kwargs is answered: " + kwargs);
        assertEquals(400, kwargs.path("status").asInt(), kwargs.toString());
        assertEquals("chat_template_kwargs.messages", kwargs.path("param").asText(), kwargs.toString());

        String grpc =
                mesh.status().path("services").path("inference").path("grpc").asText();
        List<String> args = new ArrayList<>(
                List.of(grpc, Mesh.HOME.resolve("proto/src/main/proto").toString()));
        for (int id : PROMPT) {
            args.add(Integer.toString(id));
        }
        JsonNode js = node("grpc-client.mjs", args.toArray(String[]::new));
        int[] got = new int[js.path("token_ids").size()];
        for (int i = 0; i < got.length; i++) {
            got[i] = js.path("token_ids").get(i).asInt();
        }
        assertArrayEquals(
                expected(PROMPT, 10).tokens(), got, "@grpc/grpc-js streams the checkpoint's greedy tokens: " + js);
        assertEquals("length", js.path("finish_reason").asText(), js.toString());
    }

    JsonNode node(String script, String... args) throws Exception {
        return node(Map.of(), script, args);
    }

    /** Runs a node client with the API's URLs, key and model (and {@code env}); its last line of output as JSON. */
    JsonNode node(Map<String, String> env, String script, String... args) throws Exception {
        Map<String, String> all = new HashMap<>(Map.of(
                "KATMESH_OPENAI_URL",
                openai,
                "KATMESH_BASE_URL",
                openai.replaceFirst("/v1$", ""),
                "KATMESH_API_KEY",
                key,
                "KATMESH_MODEL",
                model));
        all.putAll(env);
        return Mesh.node(all, script, args);
    }

    /**
     * The official Anthropic SDK (Messages) and openai SDK (Responses), plain and streamed: each protocol's shapes
     * and event sequences, the same greedy answer to the same conversation in every protocol, their errors, and
     * their sessions captured by what the clients carry (Claude Code's session header; previous_response_id and
     * prompt_cache_key).
     */
    @Test
    void theAnthropicSdkAndTheResponsesApiSpeakTheirProtocolsAndAreCaptured() throws Exception {
        JsonNode message = node("anthropic-client.mjs", "message");
        assertEquals("message", message.path("type").asText(), message.toString());
        assertEquals("assistant", message.path("role").asText(), message.toString());
        assertEquals("max_tokens", message.path("stop_reason").asText(), message.toString());
        assertEquals(12, message.at("/usage/output_tokens").asInt(), message.toString());
        JsonNode stream = node("anthropic-client.mjs", "stream");
        assertEquals(message.path("text").asText(), stream.path("text").asText(), "greedy, streamed: " + stream);
        assertEquals(stream.path("text").asText(), stream.path("deltas").asText(), "the deltas make the text");
        assertEquals("message_start", stream.path("first_event").asText(), stream.toString());
        assertEquals("message_stop", stream.path("last_event").asText(), stream.toString());
        assertEquals(12, stream.at("/usage/output_tokens").asInt(), stream.toString());

        String claude = "claude-" + System.nanoTime();
        JsonNode conversation = node(Map.of("KATMESH_CLAUDE_SESSION", claude), "anthropic-client.mjs", "conversation");
        JsonNode count = node("anthropic-client.mjs", "count-tokens");
        assertEquals(
                conversation.at("/turns/0/usage/input_tokens").asInt(),
                count.path("input_tokens").asInt(),
                "count_tokens counts what the same conversation is prompted with: " + count + " " + conversation);
        assertTrue(
                conversation.at("/turns/1/usage/input_tokens").asInt()
                        > conversation.at("/turns/0/usage/input_tokens").asInt(),
                conversation.toString());
        assertEquals(
                2, endSession(claude).path("turns").asInt(), "both turns in the session Claude Code's header names");
        JsonNode history = node("anthropic-client.mjs", "tool-history");
        assertTrue(history.has("stop_reason"), "a tool_use / tool_result history is accepted: " + history);
        JsonNode badKey = node("anthropic-client.mjs", "bad-key");
        assertEquals(401, badKey.path("status").asInt(), badKey.toString());
        assertEquals("authentication_error", badKey.path("type").asText(), badKey.toString());
        JsonNode bad = node("anthropic-client.mjs", "bad-request");
        assertEquals(400, bad.path("status").asInt(), bad.toString());
        assertEquals("invalid_request_error", bad.path("type").asText(), bad.toString());
        assertTrue(bad.path("message").asText().contains("tool_use_id"), bad.toString());

        JsonNode response = node("openai-client.mjs", "responses");
        assertEquals("response", response.path("object").asText(), response.toString());
        assertEquals("incomplete", response.path("status").asText(), "cut at max_output_tokens: " + response);
        assertEquals("max_output_tokens", response.at("/incomplete/reason").asText(), response.toString());
        assertEquals(
                message.path("text").asText(),
                response.path("output_text").asText(),
                "the same conversation (instructions = system) gets the same greedy answer in both protocols");
        JsonNode responseStream = node("openai-client.mjs", "responses-stream");
        assertEquals(
                response.path("output_text").asText(),
                responseStream.path("deltas").asText(),
                "" + responseStream);
        assertEquals("response.created", responseStream.path("events").path(0).asText(), responseStream.toString());
        assertTrue(
                responseStream.path("events").toString().contains("response.output_text.done"),
                responseStream.toString());
        String codex = "codex-" + System.nanoTime();
        JsonNode previous = node(Map.of("KATMESH_SESSION", codex), "openai-client.mjs", "responses-previous");
        assertTrue(previous.path("retrieved").asBoolean(), previous.toString());
        assertEquals(404, previous.path("after").asInt(), "a deleted response is gone: " + previous);
        assertTrue(
                previous.at("/second/input_tokens").asInt()
                        > previous.at("/first/input_tokens").asInt()
                                + previous.at("/first/output_tokens").asInt(),
                "the second turn's prompt holds the first turn and its answer: " + previous);
        assertEquals(
                2,
                endSession(codex).path("turns").asInt(),
                "prompt_cache_key named the session, previous_response_id continued it");
        JsonNode items = node("openai-client.mjs", "responses-tools-history");
        assertTrue(items.has("status"), "function_call / function_call_output items are accepted: " + items);
        JsonNode badResponses = node("openai-client.mjs", "responses-bad");
        assertEquals(400, badResponses.path("status").asInt(), badResponses.toString());
        assertEquals("input[0].call_id", badResponses.path("param").asText(), badResponses.toString());
    }

    JsonNode endSession(String session) throws Exception {
        HttpResponse<String> end = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(openai + "/sessions/" + session + "/end"))
                                .header("Authorization", "Bearer " + key)
                                .POST(HttpRequest.BodyPublishers.noBody())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        assertEquals(200, end.statusCode(), session + ": " + end.body());
        return JSON.readTree(end.body());
    }

    @Test
    void aCapturedSessionCarriesExactlyTheTokensThatWereStreamed() throws Exception {
        String session = "capture-" + System.nanoTime();
        ArrayNode messages = JSON.createArrayNode();
        messages.addObject().put("role", "system").put("content", "You are a coding agent.");
        messages.addObject().put("role", "user").put("content", "Write a function that adds two numbers.");
        List<Long> sampled = new ArrayList<>();
        List<Long> turnIds = new ArrayList<>();
        String first = streamChat(session, messages, 9, turnIds);
        sampled.addAll(turnIds);
        // The agent sends the answer back with a tool result-like follow-up, as deployed agents do.
        messages.addObject().put("role", "assistant").put("content", first);
        messages.addObject().put("role", "user").put("content", "Now add a test.");
        turnIds.clear();
        streamChat(session, messages, 7, turnIds);
        sampled.addAll(turnIds);

        JsonNode ended = endSession(session);
        assertEquals(2, ended.path("turns").asInt(), ended.toString());
        String trajectoryId = ended.path("trajectory_id").asText();

        Trajectory t = null;
        for (ConsumerRecord<String, byte[]> r :
                mesh.readAll("katmesh.trajectories.raw", Integer.MAX_VALUE, Duration.ofSeconds(30))) {
            if (trajectoryId.equals(Mesh.header(r, "katmesh-trajectory-id"))) {
                t = Trajectory.parseFrom(r.value());
                assertEquals("application/x-protobuf", Mesh.header(r, "content-type"));
                assertEquals(session, r.key());
            }
        }
        assertTrue(t != null, "trajectory " + trajectoryId + " is on katmesh.trajectories.raw");
        assertEquals(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, t.getSource());
        assertEquals("local", t.getAgentId(), "the API key's agent");
        assertEquals(5, t.getMessagesCount(), "system, user, assistant, user, assistant");
        List<Long> generated = new ArrayList<>();
        int generatedSegments = 0;
        for (var seg : t.getSegmentsList()) {
            if (seg.getGenerated()) {
                generatedSegments++;
                assertEquals(seg.getEnd() - seg.getStart(), seg.getLogprobsCount(), "a log-prob per generated token");
                for (int i = seg.getStart(); i < seg.getEnd(); i++) {
                    generated.add((long) t.getTokenIds(i));
                }
            }
        }
        assertEquals(2, generatedSegments, "one generated segment per turn (one version served)");
        assertEquals(sampled, generated, "the trajectory holds exactly the streamed token ids");
        // Contiguous segments cover every token: turn 2's prompt extends turn 1's tokens, no retokenisation.
        int at = 0;
        for (var seg : t.getSegmentsList()) {
            assertEquals(at, seg.getStart(), "segments are contiguous");
            at = seg.getEnd();
        }
        assertEquals(t.getTokenIdsCount(), at, "segments cover the whole session");
        // The reward service takes it (a deployed trajectory without a task).
        Mesh.awaitMetric(
                mesh.http("reward"),
                "katmesh_reward_scored_total",
                null,
                1,
                Duration.ofSeconds(60),
                "the reward scores the captured session");
        assertEquals(
                0.0,
                Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null),
                "nothing captured is rejected");
    }

    /** One streamed chat turn over raw HTTP (SSE); collects the katmesh token ids of the chunks; returns the text. */
    String streamChat(String session, ArrayNode messages, int maxTokens, List<Long> tokenIds) throws Exception {
        ObjectNode body = JSON.createObjectNode()
                .put("model", "inference-it")
                .put("max_tokens", maxTokens)
                .put("temperature", 0.8)
                .put("seed", 7)
                .put("stream", true);
        body.set("messages", messages);
        HttpResponse<Stream<String>> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(openai + "/chat/completions"))
                                .header("Authorization", "Bearer " + key)
                                .header("x-katmesh-session-id", session)
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                                .build(),
                        HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        StringBuilder text = new StringBuilder();
        boolean done = false;
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (!line.startsWith("data: ")) {
                continue;
            }
            String data = line.substring(6);
            if (data.equals("[DONE]")) {
                done = true;
                continue;
            }
            for (JsonNode choice : JSON.readTree(data).path("choices")) {
                text.append(choice.path("delta").path("content").asText(""));
                choice.path("katmesh").path("token_ids").forEach(id -> tokenIds.add(id.asLong()));
            }
        }
        assertTrue(done, "the stream ends with [DONE]");
        assertTrue(!tokenIds.isEmpty() && tokenIds.size() <= maxTokens, "tokens streamed: " + tokenIds);
        return text.toString();
    }
}
