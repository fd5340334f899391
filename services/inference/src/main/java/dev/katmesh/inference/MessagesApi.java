package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.proto.json.ToolCallSyntax;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;

/**
 * Anthropic's Messages API, what Claude Code speaks: {@code POST /v1/messages} (plain or streamed as
 * Anthropic's event sequence: message_start, content_block_start / _delta / _stop per text or tool_use block,
 * message_delta with the stop reason and usage, message_stop) and {@code POST /v1/messages/count_tokens}.
 * Keys as {@code x-api-key} or bearer; errors in Anthropic's shape ({@link ErrorShape#ANTHROPIC}). Sessions are
 * captured like chat completions' (the same template, tokens and recorder): one is found by the
 * {@code X-Claude-Code-Session-Id} header, katmesh's session header, or {@code metadata.user_id}.
 */
@ApplicationScoped
public class MessagesApi {

    static final String API = "anthropic";
    static final String CLAUDE_CODE_SESSION = "x-claude-code-session-id";
    static final List<String> SERVED = List.of("POST /v1/messages", "POST /v1/messages/count_tokens");
    private static final ObjectMapper JSON = HttpReplies.JSON;

    @Inject
    PolicyServer server;

    @Inject
    ServingMetrics metrics;

    @Inject
    SessionRecorder sessions;

    @Inject
    HttpApis apis;

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create().setBodyLimit(OpenAiApi.MAX_BODY).setHandleFileUploads(false);
        router.post("/v1/messages")
                .handler(body)
                .blockingHandler(
                        ctx -> apis.generating(ctx, API, ErrorShape.ANTHROPIC, "messages", this::messages), false);
        router.post("/v1/messages/count_tokens")
                .handler(body)
                .blockingHandler(ctx -> guarded(ctx, this::countTokens), false);
    }

    private void guarded(RoutingContext ctx, HttpApis.Endpoint endpoint) {
        apis.guarded(ctx, API, ErrorShape.ANTHROPIC, "messages", endpoint);
    }

    private void countTokens(RoutingContext ctx, String agent) {
        GenerationRequest req = MessagesRequest.countable(HttpReplies.body(ctx)).generation();
        server.requireModel(req.model());
        int n = server.chatPrompt(req.messages(), req.toolsEnabled() ? req.tools() : List.of(), req.templateVariables())
                .length;
        HttpReplies.json(ctx.response(), 200, JSON.createObjectNode().put("input_tokens", n));
        metrics.request(API, "ok");
    }

    private void messages(RoutingContext ctx, String agent) {
        MessagesRequest parsed = MessagesRequest.parse(HttpReplies.body(ctx));
        GenerationRequest req = parsed.generation();
        server.requireModel(req.model());
        String session = firstNonBlank(
                ctx.request().getHeader(CLAUDE_CODE_SESSION),
                ctx.request().getHeader(SessionRecorder.SESSION_HEADER),
                parsed.userId());
        SessionRecorder.Turn turn = sessions.begin(
                agent,
                session,
                ctx.request().getHeader(SessionRecorder.TASK_HEADER),
                req.messages(),
                req.toolsEnabled() ? req.tools() : List.of(),
                req.templateVariables());
        // Claude Code asks for 32 000 new tokens whatever the model (it assumes a window of a million): beyond the
        // room the context leaves, max_tokens is clamped, and the answer ends with stop_reason max_tokens there.
        int room = server.room(turn.prompt().length);
        if (room > 0 && req.maxTokens() > room) {
            req = req.withMaxTokens(room);
        }
        ctx.put(RequestLog.SESSION, session);
        new MessageGeneration(ctx, req, turn).start();
    }

    /** One Messages answer: its content blocks, whole or as Anthropic's stream events. */
    private final class MessageGeneration extends Generation {
        final String id = freshId("msg_", 24);
        private boolean textOpen; // the decode thread's: block 0 is an open text block
        private int blocks; // blocks started so far

        @Override
        String responseId() {
            return id;
        }

        MessageGeneration(RoutingContext ctx, GenerationRequest req, SessionRecorder.Turn turn) {
            super(ctx, req, MessagesApi.this.server, MessagesApi.this.metrics, API, turn.prompt(), turn);
        }

        @Override
        String callIdPrefix() {
            return "toolu_";
        }

        @Override
        void streamStarted() {
            ObjectNode message = message();
            message.putArray("content");
            message.putNull("stop_reason").putNull("stop_sequence");
            message.set("usage", usage(0));
            send("message_start", JSON.createObjectNode().set("message", message));
            send("ping", JSON.createObjectNode());
        }

        @Override
        void streamText(String delta) {
            if (!textOpen) {
                textOpen = true;
                blocks++;
                ObjectNode start = JSON.createObjectNode().put("index", 0);
                start.putObject("content_block").put("type", "text").put("text", "");
                send("content_block_start", start);
            }
            ObjectNode d = JSON.createObjectNode().put("index", 0);
            d.putObject("delta").put("type", "text_delta").put("text", delta);
            send("content_block_delta", d);
        }

        @Override
        void succeed(List<Answer> answers, int completionTokens) {
            Answer a = answers.get(0);
            Completion c = choices.get(0);
            ArrayNode content = content(a);
            if (!req.stream()) {
                ObjectNode message = message();
                message.set("content", content);
                stop(message, a, c);
                message.set("usage", usage(completionTokens));
                message.putObject("katmesh").put("policy_version", version());
                HttpReplies.json(response, 200, message);
                return;
            }
            String rest = a.calls().isEmpty() ? c.unstreamed() : "";
            if (!rest.isEmpty()) {
                streamText(rest);
            }
            if (textOpen) {
                send("content_block_stop", JSON.createObjectNode().put("index", 0));
            }
            for (JsonNode block : content) {
                if (block.path("type").asText().equals("tool_use")) {
                    int index = blocks++;
                    ObjectNode start = JSON.createObjectNode().put("index", index);
                    ObjectNode shell = ((ObjectNode) block.deepCopy());
                    shell.putObject("input");
                    start.set("content_block", shell);
                    send("content_block_start", start);
                    ObjectNode d = JSON.createObjectNode().put("index", index);
                    d.putObject("delta")
                            .put("type", "input_json_delta")
                            .put("partial_json", block.get("input").toString());
                    send("content_block_delta", d);
                    send("content_block_stop", JSON.createObjectNode().put("index", index));
                }
            }
            ObjectNode delta = JSON.createObjectNode();
            stop(delta.putObject("delta"), a, c);
            delta.putObject("usage").put("output_tokens", completionTokens);
            send("message_delta", delta);
            send("message_stop", JSON.createObjectNode());
            response.end();
        }

        @Override
        void reject(ServingError.ServingException e) {
            ErrorShape.ANTHROPIC.reply(response, metrics, API, e);
        }

        @Override
        void failStream(ServingError.ServingException e) {
            event("error", ErrorShape.ANTHROPIC.body(e).toString());
        }

        /** The answer's blocks: its text (when any, or when there is nothing else), then one tool_use per call. */
        private ArrayNode content(Answer a) {
            ArrayNode content = JSON.createArrayNode();
            if (a.content() != null && (!a.content().isEmpty() || a.calls().isEmpty())) {
                content.addObject().put("type", "text").put("text", a.content());
            }
            for (int i = 0; i < a.calls().size(); i++) {
                ToolCallSyntax.Call call = a.calls().get(i);
                ObjectNode use = content.addObject()
                        .put("type", "tool_use")
                        .put("id", a.callIds().get(i))
                        .put("name", call.name());
                use.set("input", input(call));
            }
            return content;
        }

        private JsonNode input(ToolCallSyntax.Call call) {
            try {
                return JSON.readTree(call.argumentsJson()); // an object: ToolCallSyntax parses only those
            } catch (Exception e) {
                throw new IllegalStateException("a parsed tool call's arguments are not JSON", e);
            }
        }

        private void stop(ObjectNode into, Answer a, Completion c) {
            String reason = !a.calls().isEmpty()
                    ? "tool_use"
                    : c.matchedStop() != null
                            ? "stop_sequence"
                            : c.finish() == Finish.LENGTH ? "max_tokens" : "end_turn";
            into.put("stop_reason", reason);
            if (c.matchedStop() != null && a.calls().isEmpty()) {
                into.put("stop_sequence", c.matchedStop());
            } else {
                into.putNull("stop_sequence");
            }
        }

        private ObjectNode message() {
            return JSON.createObjectNode()
                    .put("id", id)
                    .put("type", "message")
                    .put("role", "assistant")
                    .put("model", server.name());
        }

        private ObjectNode usage(int outputTokens) {
            return JSON.createObjectNode()
                    .put("input_tokens", prompt.length)
                    .put("output_tokens", outputTokens)
                    .put("cache_creation_input_tokens", 0)
                    .put("cache_read_input_tokens", 0);
        }

        private void send(String type, ObjectNode data) {
            ObjectNode typed = JSON.createObjectNode().put("type", type);
            typed.setAll(data);
            event(type, typed.toString());
        }
    }

    static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }
}
