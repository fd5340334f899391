package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.capture.SessionAssembler;
import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.smallrye.reactive.messaging.memory.InMemoryConnector;
import io.smallrye.reactive.messaging.memory.InMemorySink;
import jakarta.enterprise.inject.Any;
import jakarta.inject.Inject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jboss.logmanager.ExtHandler;
import org.jboss.logmanager.ExtLogRecord;
import org.jboss.logmanager.Logger;
import org.junit.jupiter.api.Test;

/** Inference's beans as one Quarkus application on the tiny Qwen3 fixture, its channels in memory. */
@QuarkusTest
@QuarkusTestResource(InMemoryChannels.class)
class InferenceServiceTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @Inject
    @Any
    InMemoryConnector connector;

    @TestHTTPResource("/")
    URI root;

    HttpResponse<String> post(String path, String body, String key, String session) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(root.resolve(path))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            r.header("authorization", "Bearer " + key);
        }
        if (session != null) {
            r.header("x-katmesh-session-id", session);
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aChatIsLoggedBeforeItsAnswerCompletesAndItsSessionEndAfterIt() throws Exception {
        InMemorySink<byte[]> log = connector.sink("capture-requests");
        log.clear();
        String chat =
                "{\"model\":\"qwen3-tiny\",\"max_tokens\":4,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        HttpResponse<String> r = post("v1/chat/completions", chat, "test-key", "svc-session");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode answer = JSON.readTree(r.body());
        assertEquals("assistant", answer.at("/choices/0/message/role").asText(), r.body());
        assertTrue(answer.at("/usage/completion_tokens").asInt() >= 1, r.body());
        assertEquals(1, log.received().size(), "the request is on the capture log when its answer arrives");
        CaptureEvent request = CaptureEvent.parseFrom(log.received().get(0).getPayload());
        assertEquals(answer.path("id").asText(), request.getRequest().getRequestId(), "named by the response's id");
        assertEquals("svc-session", request.getSessionId());
        assertEquals(
                answer.at("/usage/completion_tokens").asInt(),
                request.getRequest().getGeneratedTokenIdsCount(),
                "the exact tokens served");

        HttpResponse<String> end =
                post("v1/sessions/svc-session/end", "{\"outcome\":{\"submitted\":true}}", "test-key", null);
        assertEquals(200, end.statusCode(), end.body());
        assertEquals(2, log.received().size(), "the session's end follows its request");
        CaptureEvent ended = CaptureEvent.parseFrom(log.received().get(1).getPayload());
        assertEquals(request.getTreeId(), ended.getTreeId());
        assertEquals("ended", ended.getEnd().getReason());
        assertEquals(1, ended.getEnd().getRequests());
        assertTrue(ended.getEnd().getOutcome().getSubmitted(), "the agent's outcome rides on the end");

        // What the reward service assembles from these two records is what the end call named.
        SessionAssembler<Integer> assembler = new SessionAssembler<>(Duration.ofMinutes(10), Duration.ofSeconds(5), 10);
        assertTrue(assembler.accept(request, 0, 1, 1, 1).isEmpty(), "held until its end");
        List<SessionAssembler.Closed<Integer>> closed = assembler.accept(ended, 0, 2, 2, 2);
        Trajectory t = closed.get(0).trajectories().get(0);
        assertEquals(JSON.readTree(end.body()).path("trajectory_id").asText(), t.getTrajectoryId(), end.body());
        assertEquals(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, t.getSource());
        assertEquals("assistant", t.getMessages(t.getMessagesCount() - 1).getRole(), t.toString());
        assertTrue(t.getTokenIdsCount() > 0, "the exact tokens served are captured");
        assertEquals(List.of(answer.path("id").asText()), t.getCapturedRequestIdsList());
        assertTrue(t.getOutcome().getSubmitted());
    }

    @Test
    void aRequestWithoutTheKeyIsRefusedInTheApisOwnErrorShape() throws Exception {
        HttpResponse<String> r = post("v1/chat/completions", "{\"messages\":[]}", "wrong", null);
        assertEquals(401, r.statusCode(), r.body());
        assertTrue(JSON.readTree(r.body()).at("/error/message").asText().length() > 0, r.body());
    }

    @Test
    void anUnknownPathOrMethodGetsTheApisJsonErrorNotAnHtmlPage() throws Exception {
        for (String path : new String[] {"v1/responsesx", "v1/assistants", "nope", "v1/chat/completions/x"}) {
            HttpResponse<String> r = post(path, "{}", "test-key", null);
            assertEquals(404, r.statusCode(), path + ": " + r.body());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"), path);
            JsonNode error = JSON.readTree(r.body()).path("error");
            assertEquals("not_found", error.path("code").asText(), r.body());
            assertTrue(error.path("message").asText().contains("/" + path), r.body());
        }
        HttpResponse<String> get = HTTP.send(
                HttpRequest.newBuilder(root.resolve("v1/chat/completions")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(405, get.statusCode(), get.body());
        assertEquals(
                "method_not_allowed",
                JSON.readTree(get.body()).at("/error/code").asText(),
                get.body());
        // A path of the Messages API, or a request that speaks Anthropic (x-api-key), gets Anthropic's error shape.
        HttpResponse<String> messages = post("v1/messages/batches", "{}", "test-key", null);
        assertEquals(404, messages.statusCode(), messages.body());
        JsonNode anthropic = JSON.readTree(messages.body());
        assertEquals("error", anthropic.path("type").asText(), messages.body());
        assertEquals("not_found_error", anthropic.at("/error/type").asText(), messages.body());
        HttpResponse<String> getMessages = HTTP.send(
                HttpRequest.newBuilder(root.resolve("v1/messages")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, getMessages.statusCode(), getMessages.body());
        assertEquals(
                "invalid_request_error",
                JSON.readTree(getMessages.body()).at("/error/type").asText(),
                getMessages.body());
        HttpResponse<String> health = HTTP.send(
                HttpRequest.newBuilder(root.resolve("q/health/live")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "the framework's own routes still answer: " + health.body());
    }

    @Test
    void chatTemplateKwargsReachTheTemplateAndTheRequestsOwnFieldsStayItsOwn() throws Exception {
        String ok = "{\"model\":\"qwen3-tiny\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"chat_template_kwargs\":{\"enable_thinking\":false}}";
        HttpResponse<String> r = post("v1/chat/completions", ok, "test-key", null);
        assertEquals(200, r.statusCode(), r.body());
        HttpResponse<String> bad = post(
                "v1/chat/completions",
                ok.replace("\"enable_thinking\":false", "\"add_generation_prompt\":false"),
                "test-key",
                null);
        assertEquals(400, bad.statusCode(), bad.body());
        assertEquals(
                "chat_template_kwargs.add_generation_prompt",
                JSON.readTree(bad.body()).at("/error/param").asText(),
                bad.body());
    }

    @Test
    void aPromptLongerThanTheContextIsRefusedNamingTheField() throws Exception {
        String longText = "lorem ipsum ".repeat(4000);
        HttpResponse<String> r = post(
                "v1/chat/completions",
                "{\"model\":\"qwen3-tiny\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"" + longText
                        + "\"}]}",
                "test-key",
                null);
        assertEquals(400, r.statusCode(), r.body());
        JsonNode error = JSON.readTree(r.body()).path("error");
        assertEquals("context_length_exceeded", error.path("code").asText(), r.body());
        assertEquals("messages", error.path("param").asText(), r.body());
        HttpResponse<String> c = post(
                "v1/completions",
                "{\"model\":\"qwen3-tiny\",\"max_tokens\":4,\"prompt\":\"" + longText + "\"}",
                "test-key",
                null);
        assertEquals("prompt", JSON.readTree(c.body()).at("/error/param").asText(), c.body());
    }

    @Test
    void everyRequestIsOneLogLineWithItsAgentSessionStatusAndTokens() throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        ExtHandler handler = new ExtHandler() {
            @Override
            protected void doPublish(ExtLogRecord r) {
                lines.add(r.getFormattedMessage());
            }
        };
        Logger log = Logger.getLogger(RequestLog.class.getName());
        log.addHandler(handler);
        try {
            String chat =
                    "{\"model\":\"qwen3-tiny\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            assertEquals(
                    200,
                    post("v1/chat/completions", chat, "test-key", "log-session").statusCode());
            assertEquals(404, post("v1/nope", "{}", "test-key", null).statusCode());
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (lines.size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        } finally {
            log.removeHandler(handler);
        }
        assertEquals(2, lines.size(), "one line per request: " + lines);
        // The line is written when the response has ended, which may be after the client has read it and sent
        // the next request: find each request's line by its path, not by its place.
        String chatLine = lineFor(lines, "POST /v1/chat/completions ");
        assertTrue(
                chatLine.matches(
                        "POST /v1/chat/completions agent=agent-test session=log-session status=200 tokens=\\d+\\+[1-3] \\d+ ms"),
                chatLine);
        assertTrue(lineFor(lines, "POST /v1/nope ").startsWith("POST /v1/nope agent=- session=- status=404 tokens=- "));
    }

    private static String lineFor(List<String> lines, String prefix) {
        return lines.stream()
                .filter(l -> l.startsWith(prefix))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no line starting " + prefix + " in " + lines));
    }
}
