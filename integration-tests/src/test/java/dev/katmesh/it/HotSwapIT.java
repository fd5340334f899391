package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.GenerateResponse;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TokenizeRequest;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.WorkspaceFile;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Weights flow from the learner into inference while it serves: the learner runs SFT on a tool-calling
 * conversation and publishes a version every few steps; inference swaps each in between decode steps
 * while streams run without pause. No request fails, streams see the version change mid-way, and at
 * the end the served policy answers the conversation with a tool call that the openai SDK receives as
 * {@code tool_calls} — parsed from the model's own tool-call syntax.
 */
class HotSwapIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String KEY = "swap-it-key";

    @Test
    void versionsSwapInUnderLoadAndTheTrainedModelCallsTools() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/hot-swap");
        Path model = dir.resolve("tool-agent");
        Mesh.deleteRecursively(dir);
        Files.createDirectories(dir);
        Mesh.at(dir, Map.of())
                .katmeshNoDataDir(
                        Duration.ofMinutes(2),
                        "policy",
                        "init",
                        "--out",
                        model.toString(),
                        "--tokenizer",
                        PolicyCliIT.FIXTURE.toString(),
                        "--hidden",
                        "64",
                        "--intermediate",
                        "128",
                        "--layers",
                        "2",
                        "--heads",
                        "4",
                        "--kv-heads",
                        "2",
                        "--head-dim",
                        "16",
                        "--seed",
                        "9");
        // The conversation the SDK's "tools" modes send, answered with a call (as the chat template writes it).
        String tools =
                "[{\"type\":\"function\",\"function\":{\"name\":\"bash\",\"description\":\"Run a shell command\","
                        + "\"parameters\":{\"type\":\"object\",\"properties\":{\"comma"
                        + "nd\":{\"type\":\"string\"}},\"required\":[\"command\"]}}}]";
        String line = "{\"trajectory_id\":\"t\",\"group_id\":\"g\",\"tools\":" + tools + ",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"Count the lines of a.py.\"},"
                + "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"functi"
                + "on\",\"function\":{\"name\":\"bash\",\"arguments\":{\"command\":\"wc -l a.py\"}}}]}]}\n";
        Files.writeString(dir.resolve("sft.jsonl"), line);
        // Long enough that training outlasts the mesh's start and the load's ramp (a step of this model takes about
        // 70 ms here: 150 steps ended before the streams began, and no stream could span a swap).
        int steps = 900;
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: sft
                    objective: sft
                    sources: [{file: sft.jsonl}]
                    steps: %d
                    batch: 1
                """.formatted(steps));
        String learner = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"),
                "-Dkatmesh.learner.version-every=90",
                "-Dkatmesh.learner.learning-rate=1e-2");
        String inference = "-Dkatmesh.inference.model-dir=" + model;
        String rollout = "-Dkatmesh.rollout.group-size=1 -Dkatmesh.rollout.max-turns=1 -Dkatmesh.rollout.temperature=0";
        long finalVersion = steps / 90;
        try (Mesh mesh = Mesh.up(
                "hot-swap",
                Map.of(
                        "KATMESH_LEARNER_OPTS",
                        learner,
                        "KATMESH_INFERENCE_OPTS",
                        inference,
                        "KATMESH_ROLLOUT_OPTS",
                        rollout,
                        "KATMESH_API_KEY",
                        KEY))) {
            JsonNode status = mesh.status().path("services");
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + KEY);
            ManagedChannel channel = ManagedChannelBuilder.forTarget(
                            status.path("inference").path("grpc").asText())
                    .usePlaintext()
                    .build();
            ManagedChannel learnerChannel = ManagedChannelBuilder.forTarget(
                            status.path("learner").path("grpc").asText())
                    .usePlaintext()
                    .build();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                InferenceGrpc.InferenceBlockingStub inferenceStub = InferenceGrpc.newBlockingStub(channel)
                        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger completed = new AtomicInteger();
                AtomicInteger mixed = new AtomicInteger(); // streams whose tokens came from two versions
                AtomicReference<Throwable> failure = new AtomicReference<>();
                List<Future<?>> load = new ArrayList<>();
                for (int w = 0; w < 3; w++) {
                    int worker = w;
                    load.add(pool.submit(() -> {
                        int round = 0;
                        while (!stop.get() && failure.get() == null) {
                            GenerateRequest.Builder r = GenerateRequest.newBuilder()
                                    .setSampling(dev.katmesh.proto.v1.SamplingParams.newBuilder()
                                            .setMaxNewTokens(300)
                                            .setTemperature(1f)
                                            .setSeed(worker * 1000L + round++));
                            for (int id : InferenceIT.PROMPT) {
                                r.addPromptTokenIds(id);
                            }
                            try {
                                long first = -1;
                                boolean changed = false;
                                GenerateResponse last = null;
                                for (Iterator<GenerateResponse> it = inferenceStub
                                                .withDeadlineAfter(60, TimeUnit.SECONDS)
                                                .generateStream(r.build());
                                        it.hasNext(); ) {
                                    last = it.next();
                                    for (long v : last.getTokenPolicyVersionsList()) {
                                        first = first < 0 ? v : first;
                                        changed |= v != first;
                                    }
                                }
                                assertTrue(
                                        last != null && last.getFinished(), "the stream ends with its finish message");
                                completed.incrementAndGet();
                                if (changed) {
                                    mixed.incrementAndGet();
                                }
                            } catch (Throwable t) {
                                failure.compareAndSet(null, t);
                            }
                        }
                    }));
                }
                String http = mesh.http("inference");
                Duration took = Mesh.awaitMetric(
                        http,
                        "katmesh_inference_policy_version",
                        null,
                        finalVersion,
                        Duration.ofMinutes(6),
                        "inference serves the learner's last version v" + finalVersion);
                stop.set(true);
                for (Future<?> f : load) {
                    f.get(2, TimeUnit.MINUTES);
                }
                assertEquals(null, failure.get(), "no request fails while versions swap in: " + failure.get());
                long learnerLatest = mesh.weights(learnerChannel)
                        .latest(LatestRequest.getDefaultInstance())
                        .getVersion();
                assertEquals(finalVersion, learnerLatest, "the learner's newest version");
                double swaps = Mesh.metric(http, "katmesh_inference_swap_seconds_count", null);
                System.out.printf(
                        "%d streams completed during %d s of training, %d of them across a swap; %.0f swaps; final SFT loss %.5f%n",
                        completed.get(),
                        took.toSeconds(),
                        mixed.get(),
                        swaps,
                        Mesh.metric(mesh.http("learner"), "katmesh_learner_loss", null));
                assertTrue(swaps >= 1, "swaps happened: " + swaps);
                assertTrue(mixed.get() >= 1, "some stream went on across a swap (" + completed.get() + " streams)");
                assertEquals(0.0, Mesh.metric(http, "katmesh_inference_swap_failures_total", null), "no swap failed");

                // The served weights are the learner's last checkpoint: same greedy tokens for the same prompt.
                Path checkpoint =
                        mesh.dataDir.resolve("learner/checkpoints").resolve(String.format("v%06d", finalVersion));
                int[] prompt = inferenceStub
                        .tokenize(TokenizeRequest.newBuilder()
                                .addMessages(
                                        ChatMessage.newBuilder().setRole("user").setContent("Count the lines of a.py."))
                                .addTools(ToolSchema.newBuilder()
                                        .setType("function")
                                        .setName("bash")
                                        .setDescription("Run a shell command")
                                        .setParametersJson("{\"type\":\"object\",\"properties\":{\"command\":{"
                                                + "\"type\":\"string\"}},\"required\":[\"command\"]}"))
                                .setAddGenerationPrompt(true)
                                .build())
                        .getTokenIdsList()
                        .stream()
                        .mapToInt(Integer::intValue)
                        .toArray();
                int[] served = inferenceStub.generate(InferenceIT.greedy(prompt, 40)).getTokenIdsList().stream()
                        .mapToInt(Integer::intValue)
                        .toArray();
                try (DecoderModel last = DecoderModel.load(
                        checkpoint, ModelConfig.read(checkpoint.resolve("config.json")), Device.cpu())) {
                    int[] expected = new Generator(last)
                            .generate(prompt, SamplingParams.greedy(40))
                            .tokens();
                    assertEquals(
                            Arrays.toString(expected),
                            Arrays.toString(served),
                            "inference serves exactly the learner's v" + finalVersion + " after swapping under load");
                }

                // The served model now answers with a call: the SDK gets tool_calls, streamed and not.
                InferenceIT sdk = new InferenceIT();
                sdk.openai = status.path("inference").path("openai").asText();
                sdk.key = KEY;
                sdk.model = "tool-agent";
                for (String mode : List.of("tools-stream", "tools-call")) {
                    JsonNode r = sdk.node("openai-client.mjs", mode);
                    assertEquals("tool_calls", r.path("finish_reason").asText(), mode + ": " + r);
                    JsonNode call = r.path("tool_calls").path(0);
                    assertEquals("bash", call.path("name").asText(), mode + ": " + r);
                    assertEquals(
                            "wc -l a.py",
                            JSON.readTree(call.path("arguments").asText())
                                    .path("command")
                                    .asText(),
                            mode + ": " + r);
                }

                // And so do the Anthropic SDK (Messages: tool_use blocks) and the Responses API (function_call items).
                for (String mode : List.of("tools-stream", "tools-call")) {
                    JsonNode r = sdk.node("anthropic-client.mjs", mode);
                    assertEquals("tool_use", r.path("stop_reason").asText(), "messages " + mode + ": " + r);
                    JsonNode call = r.path("calls").path(0);
                    assertEquals("bash", call.path("name").asText(), mode + ": " + r);
                    assertTrue(call.path("id").asText().startsWith("toolu_"), mode + ": " + r);
                    assertEquals("wc -l a.py", call.at("/input/command").asText(), "messages " + mode + ": " + r);
                }
                for (String mode : List.of("responses-tools-stream", "responses-tools-call")) {
                    JsonNode r = sdk.node("openai-client.mjs", mode);
                    assertEquals("completed", r.path("status").asText(), mode + ": " + r);
                    JsonNode call = r.path("calls").path(0);
                    assertEquals("bash", call.path("name").asText(), mode + ": " + r);
                    assertEquals(
                            "wc -l a.py",
                            JSON.readTree(call.path("arguments").asText())
                                    .path("command")
                                    .asText(),
                            mode + ": " + r);
                    if (mode.equals("responses-tools-stream")) {
                        assertEquals(
                                call.path("arguments").asText(),
                                r.path("streamed_arguments").asText(),
                                "the argument deltas make the arguments: " + r);
                    }
                }

                // And the rollout service's agent loop runs that call in the sandbox, on a task with an a.py.
                Task task = Task.newBuilder()
                        .setTaskId("count-lines")
                        .setSplit("train")
                        .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Count the lines of a.py."))
                        .addTools(ToolSchema.newBuilder()
                                .setType("function")
                                .setName("bash")
                                .setDescription("Run a shell command")
                                .setParametersJson("{\"type\":\"object\",\"properties\":{\"command\":{"
                                        + "\"type\":\"string\"}},\"required\":[\"command\"]}"))
                        .addFiles(WorkspaceFile.newBuilder()
                                .setPath("a.py")
                                .setContent(ByteString.copyFromUtf8("a = 1\nb = 2\nprint(a + b)\n")))
                        .build();
                mesh.send("katmesh.tasks", task.getTaskId(), Map.of(), task.toByteArray());
                Mesh.awaitMetric(
                        mesh.http("rollout"),
                        "katmesh_rollout_trajectories_published_total",
                        null,
                        1,
                        Duration.ofMinutes(2),
                        "the episode is published");
                Trajectory episode = null;
                for (var rec :
                        mesh.readAll("katmesh.trajectories.rollout", Integer.MAX_VALUE, Duration.ofSeconds(20))) {
                    Trajectory t = Trajectory.parseFrom(rec.value());
                    if (t.getTaskId().equals("count-lines")) {
                        episode = t;
                    }
                }
                assertTrue(episode != null, "the rollout trajectory is on katmesh.trajectories.rollout");
                assertEquals(1, episode.getStepsCount(), "one tool call, executed: " + episode.getMessagesList());
                ToolStep step = episode.getSteps(0);
                assertEquals("bash", step.getToolName());
                assertEquals(0, step.getExitCode(), step.getOutput());
                assertTrue(
                        step.getOutput().startsWith("3 a.py"),
                        "the sandbox's real output comes back: " + step.getOutput());
                assertEquals(
                        "tool",
                        episode.getMessages(step.getMessageIndex()).getRole(),
                        "the observation is in the conversation");
                assertTrue(
                        episode.getSegmentsList().stream()
                                .anyMatch(sg -> sg.getGenerated() && sg.getPolicyVersion() == finalVersion),
                        "the episode's tokens come from the final version");
            } finally {
                pool.shutdownNow();
                channel.shutdownNow();
                learnerChannel.shutdownNow();
            }
        }
    }
}
