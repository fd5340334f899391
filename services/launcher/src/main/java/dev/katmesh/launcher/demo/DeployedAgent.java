package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.Episode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A simulated deployed coding agent: it works a task the way an agent product would, through the
 * OpenAI-compatible chat API (tools, tool calls, tool results), runs the calls in its own sandbox, and
 * ends its session, which the inference service captures as a DEPLOYED trajectory. It is what the main
 * job uses for the deployment-adaptation stage; it knows nothing of katmesh beyond the API, the
 * session header and the task header.
 *
 * <p>With {@code samplesPerTurn} above 1 it samples each answer that many times and goes on from the last, sampling
 * again (up to twice more) while the last has no tool call, as a user pressing "regenerate" or a harness that samples
 * candidates would: the answers it did not go on from are dead ends of the session's tree, the branches a tree budget
 * prunes first (TreePruning). The one it goes on from is always the last sent, so the session ends on the leaf that
 * holds its last request (the capture's main line).
 */
public final class DeployedAgent {

    /** One session's outcome. */
    record Session(String sessionId, int turns, boolean submitted, String endReason) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = MeshHttp.client(Duration.ofSeconds(10));
    private final String baseUrl;
    private final String apiKey;
    private final AgentTools tools;
    private final int maxTokens;
    private final double temperature;
    private final int samplesPerTurn;

    DeployedAgent(String baseUrl, String apiKey, AgentTools tools, int maxTokens, double temperature) {
        this(baseUrl, apiKey, tools, maxTokens, temperature, 1);
    }

    DeployedAgent(
            String baseUrl, String apiKey, AgentTools tools, int maxTokens, double temperature, int samplesPerTurn) {
        if (samplesPerTurn < 1) {
            throw new IllegalArgumentException("samplesPerTurn must be >= 1, got " + samplesPerTurn);
        }
        this.samplesPerTurn = samplesPerTurn;
        this.baseUrl = baseUrl;
        this.apiKey = apiKey;
        this.tools = tools;
        this.maxTokens = maxTokens;
        this.temperature = temperature;
    }

    private volatile String model;

    /** The served model's id, from GET /v1/models (as OpenAI clients find it). */
    private String model() throws IOException, InterruptedException {
        if (model == null) {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(baseUrl + "/v1/models"))
                            .timeout(Duration.ofSeconds(30))
                            .header("authorization", "Bearer " + apiKey)
                            .GET()
                            .build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            JsonNode id = r.statusCode() == 200
                    ? JSON.readTree(r.body()).path("data").path(0).path("id")
                    : null;
            if (id == null || !id.isTextual()) {
                throw new IOException("GET /v1/models → HTTP " + r.statusCode() + ": " + r.body());
            }
            model = id.asText();
        }
        return model;
    }

    /** Works {@code task} in a fresh workspace under session {@code sessionId}, then ends the session. */
    Session work(Task task, String sessionId, int maxTurns, long seed) throws IOException, InterruptedException {
        Episode workspace = Episode.start(task, sessionId, sessionId, seed); // the task's files and first messages
        try {
            ArrayNode messages = JSON.createArrayNode();
            workspace.messages().forEach(m -> messages.add(TrajectoryJson.messageJson(m)));
            JsonNode toolSpecs = JSON.valueToTree(ChatMaps.tools(task.getToolsList()));
            int turns = 0;
            while (turns < maxTurns) {
                JsonNode message = null;
                ChatMessage assistant = null;
                for (int sample = 0; sampleAgain(sample, assistant); sample++) {
                    ObjectNode req = JSON.createObjectNode()
                            .put("model", model())
                            .put("max_tokens", maxTokens)
                            .put("temperature", temperature)
                            .put("seed", seed * 31 + turns + 1_000_003L * sample); // sample 0: as with one
                    req.set("messages", messages);
                    req.set("tools", toolSpecs);
                    JsonNode reply = post("/v1/chat/completions", req, sessionId, task.getTaskId());
                    message = reply.path("choices").path(0).path("message");
                    assistant = parse(message);
                }
                turns++;
                messages.add(message);
                if (assistant.getToolCallsCount() == 0) {
                    messages.add(JSON.createObjectNode().put("role", "user").put("content", Episode.NO_CALL));
                    continue;
                }
                for (ToolCall call : assistant.getToolCallsList()) {
                    AgentTools.Result r = tools.execute(call.getName(), call.getArguments(), workspace.workspace);
                    messages.add(JSON.createObjectNode()
                            .put("role", "tool")
                            .put("tool_call_id", call.getId())
                            .put("name", call.getName())
                            .put("content", r.output()));
                    if (!r.submittedPath().isEmpty()) {
                        // Report the outcome with the end of the session: the reward runs the task's tests on it.
                        String content = AgentTools.readSubmission(workspace.workspace, r.submittedPath());
                        ObjectNode outcome = JSON.createObjectNode()
                                .put("submitted", content != null)
                                .put("kind", "file")
                                .put("path", r.submittedPath())
                                .put("content", content == null ? "" : content);
                        end(sessionId, outcome);
                        return new Session(sessionId, turns, content != null, "submitted");
                    }
                }
            }
            end(sessionId, JSON.createObjectNode().put("submitted", false));
            return new Session(sessionId, turns, false, "max_turns");
        } finally {
            workspace.cleanUp();
        }
    }

    /**
     * Whether to sample the turn's answer again after {@code sample} samples: up to {@code samplesPerTurn}, and, where
     * that is above 1, up to twice more while the last has no tool call. One sample a turn is never repeated.
     */
    private boolean sampleAgain(int sample, ChatMessage last) {
        return sample < samplesPerTurn
                || (samplesPerTurn > 1 && sample < samplesPerTurn + 2 && last.getToolCallsCount() == 0);
    }

    private void end(String sessionId, ObjectNode outcome) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode();
        body.set("outcome", outcome);
        post("/v1/sessions/" + sessionId + "/end", body, sessionId, null);
    }

    private static ChatMessage parse(JsonNode message) throws IOException {
        try {
            return TrajectoryJson.messages(JSON.createArrayNode().add(message), "choices[0].message")
                    .get(0);
        } catch (TrajectoryJsonException e) {
            throw new IOException("the API answered a message that is not OpenAI chat: " + e.getMessage(), e);
        }
    }

    private JsonNode post(String path, JsonNode body, String sessionId, String taskId)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(Duration.ofMinutes(3))
                .header("authorization", "Bearer " + apiKey)
                .header("content-type", "application/json")
                .header("x-katmesh-session-id", sessionId)
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        if (taskId != null) {
            b.header("x-katmesh-task-id", taskId);
        }
        for (int attempt = 1; ; attempt++) {
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            if (r.statusCode() == 429 && attempt < 20) { // the server is full: wait as told, then retry
                Thread.sleep(1000L
                        * Math.max(
                                1,
                                r.headers()
                                        .firstValue("retry-after")
                                        .map(Long::parseLong)
                                        .orElse(1L)));
                continue;
            }
            if (r.statusCode() / 100 != 2) {
                throw new IOException("POST " + path + " → HTTP " + r.statusCode() + ": " + r.body());
            }
            return r.body().isBlank() ? JSON.createObjectNode() : JSON.readTree(r.body());
        }
    }
}
