package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.proto.json.ToolCallSyntax;
import dev.katmesh.proto.v1.ChatMessage;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenAI's Responses API, what Codex speaks: {@code POST /v1/responses} (plain, or streamed as the Responses
 * event sequence: response.created, response.in_progress, output_item.added / content_part.added /
 * output_text.delta ... per item, response.completed or response.incomplete), and {@code GET} / {@code DELETE
 * /v1/responses/{id}} for stored responses. Errors in OpenAI's shape. Sessions are captured like chat
 * completions' and found by katmesh's session header, Codex's session headers, the session of the response that
 * {@code previous_response_id} names, or {@code prompt_cache_key}.
 */
@ApplicationScoped
public class ResponsesApi {

    static final String API = "responses";
    static final List<String> SERVED =
            List.of("POST /v1/responses", "GET /v1/responses/{id}", "DELETE /v1/responses/{id}");
    /** Codex's headers that carry its session id (the turn metadata is a JSON object that holds it). */
    static final List<String> CODEX_SESSION_HEADERS =
            List.of("session-id", "session_id", "x-codex-session-id", "conversation_id");

    static final String CODEX_TURN_METADATA = "x-codex-turn-metadata";
    private static final ObjectMapper JSON = HttpReplies.JSON;

    @Inject
    PolicyServer server;

    @Inject
    ServingMetrics metrics;

    @Inject
    InferenceSettings settings;

    @Inject
    SessionRecorder sessions;

    @Inject
    ResponseStore store;

    @Inject
    HttpApis apis;

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create().setBodyLimit(OpenAiApi.MAX_BODY).setHandleFileUploads(false);
        router.post("/v1/responses")
                .handler(body)
                .blockingHandler(ctx -> apis.generating(ctx, API, ErrorShape.OPENAI, "input", this::create), false);
        router.get("/v1/responses/:id").handler(ctx -> guarded(ctx, this::retrieve));
        router.delete("/v1/responses/:id").handler(ctx -> guarded(ctx, this::delete));
    }

    private void guarded(RoutingContext ctx, HttpApis.Endpoint endpoint) {
        apis.guarded(ctx, API, ErrorShape.OPENAI, "input", endpoint);
    }

    private void retrieve(RoutingContext ctx, String agent) {
        ResponseStore.Stored s = stored(agent, ctx.pathParam("id"), "id");
        HttpReplies.json(ctx.response(), 200, s.response());
        metrics.request(API, "ok");
    }

    private void delete(RoutingContext ctx, String agent) {
        String id = ctx.pathParam("id");
        if (!store.delete(agent, id)) {
            throw notFound(id, "id");
        }
        HttpReplies.json(
                ctx.response(),
                200,
                JSON.createObjectNode().put("id", id).put("object", "response").put("deleted", true));
        metrics.request(API, "ok");
    }

    private ResponseStore.Stored stored(String agent, String id, String param) {
        return store.get(agent, id).orElseThrow(() -> notFound(id, param));
    }

    private static ServingError.ServingException notFound(String id, String param) {
        return ServingError.NOT_FOUND.with(
                "Response with id '" + id + "' not found (never stored, forgotten, or another key's)", param);
    }

    private void create(RoutingContext ctx, String agent) {
        ResponsesRequest parsed = ResponsesRequest.parse(
                HttpReplies.body(ctx),
                settings.defaultMaxTokens(),
                previous -> stored(agent, previous, "previous_response_id").conversation());
        GenerationRequest req = parsed.generation();
        server.requireModel(req.model());
        String session = MessagesApi.firstNonBlank(
                ctx.request().getHeader(SessionRecorder.SESSION_HEADER),
                codexSession(ctx),
                parsed.previousResponseId() == null
                        ? null
                        : stored(agent, parsed.previousResponseId(), "previous_response_id")
                                .session(),
                parsed.promptCacheKey());
        SessionRecorder.Turn turn = sessions.begin(
                agent,
                session,
                ctx.request().getHeader(SessionRecorder.TASK_HEADER),
                req.messages(),
                req.toolsEnabled() ? req.tools() : List.of(),
                req.templateVariables());
        ctx.put(RequestLog.SESSION, session);
        new ResponseGeneration(ctx, req, parsed, agent, session, turn).start();
    }

    /** Codex's session: one of its session headers, or the session id inside its turn metadata. */
    private static String codexSession(RoutingContext ctx) {
        for (String h : CODEX_SESSION_HEADERS) {
            String v = ctx.request().getHeader(h);
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        String meta = ctx.request().getHeader(CODEX_TURN_METADATA);
        if (meta != null) {
            try {
                JsonNode m = JSON.readTree(meta);
                for (String f : List.of("session_id", "conversation_id", "thread_id")) {
                    if (m.path(f).isTextual() && !m.path(f).textValue().isBlank()) {
                        return m.path(f).textValue();
                    }
                }
            } catch (Exception e) {
                return null; // metadata that is not JSON names no session: the key's agent does
            }
        }
        return null;
    }

    /** One response: its output items, whole or as the Responses event sequence. */
    private final class ResponseGeneration extends Generation {
        final String id = freshId("resp_", 32);
        final String messageId = freshId("msg_", 32);
        final ResponsesRequest parsed;
        final String agent;
        final String session;
        final long created = System.currentTimeMillis() / 1000;
        private int sequence; // the decode thread's
        private boolean textOpen;
        private final StringBuilder streamedText = new StringBuilder();

        @Override
        String responseId() {
            return id;
        }

        ResponseGeneration(
                RoutingContext ctx,
                GenerationRequest req,
                ResponsesRequest parsed,
                String agent,
                String session,
                SessionRecorder.Turn turn) {
            super(ctx, req, ResponsesApi.this.server, ResponsesApi.this.metrics, API, turn.prompt(), turn);
            this.parsed = parsed;
            this.agent = agent;
            this.session = session;
        }

        @Override
        void streamStarted() {
            ObjectNode r = response("in_progress");
            r.putArray("output");
            send("response.created", JSON.createObjectNode().set("response", r));
            send("response.in_progress", JSON.createObjectNode().set("response", r.deepCopy()));
        }

        @Override
        void streamText(String delta) {
            if (!textOpen) {
                textOpen = true;
                ObjectNode item = messageItem("", "in_progress");
                ((ArrayNode) item.get("content")).removeAll();
                send(
                        "response.output_item.added",
                        JSON.createObjectNode().put("output_index", 0).set("item", item));
                send("response.content_part.added", part(0).set("part", outputText("")));
            }
            streamedText.append(delta);
            send("response.output_text.delta", part(0).put("delta", delta));
        }

        @Override
        void succeed(List<Answer> answers, int completionTokens) {
            Answer a = answers.get(0);
            Completion c = choices.get(0);
            ArrayNode output = output(a);
            String status = c.finish() == Finish.LENGTH && a.calls().isEmpty() ? "incomplete" : "completed";
            ObjectNode r = response(status);
            r.set("output", output);
            if (status.equals("incomplete")) {
                r.putObject("incomplete_details").put("reason", "max_output_tokens");
            }
            r.set("usage", usage(completionTokens));
            ObjectNode ext = r.putObject("katmesh").put("policy_version", version());
            if (!parsed.toolsNotOffered().isEmpty()) {
                parsed.toolsNotOffered().forEach(ext.putArray("tools_not_offered")::add);
            }
            remember(a, r);
            if (!req.stream()) {
                HttpReplies.json(response, 200, r);
                return;
            }
            String rest = a.calls().isEmpty() ? c.unstreamed() : "";
            if (!rest.isEmpty()) {
                streamText(rest);
            }
            int index = 0;
            for (JsonNode item : output) {
                String type = item.path("type").asText();
                if (type.equals("message")) {
                    if (!textOpen) { // a message whose text was never streamed (all held back, or empty)
                        streamText(item.path("content").path(0).path("text").asText());
                    }
                    String text = item.path("content").path(0).path("text").asText();
                    send("response.output_text.done", part(index).put("text", text));
                    send("response.content_part.done", part(index).set("part", outputText(text)));
                } else {
                    ObjectNode shell = ((ObjectNode) item.deepCopy()).put("status", "in_progress");
                    boolean custom = type.equals("custom_tool_call");
                    String field = custom ? "input" : "arguments";
                    shell.put(field, "");
                    send(
                            "response.output_item.added",
                            JSON.createObjectNode().put("output_index", index).set("item", shell));
                    String prefix = custom ? "response.custom_tool_call_input." : "response.function_call_arguments.";
                    ObjectNode delta = JSON.createObjectNode()
                            .put("item_id", item.path("id").asText())
                            .put("output_index", index)
                            .put("delta", item.path(field).asText());
                    send(prefix + "delta", delta);
                    ObjectNode done = JSON.createObjectNode()
                            .put("item_id", item.path("id").asText())
                            .put("output_index", index)
                            .put(field, item.path(field).asText());
                    send(prefix + "done", done);
                }
                send(
                        "response.output_item.done",
                        JSON.createObjectNode().put("output_index", index).set("item", item));
                index++;
            }
            send(
                    status.equals("completed") ? "response.completed" : "response.incomplete",
                    JSON.createObjectNode().set("response", r));
            response.end();
        }

        @Override
        void reject(ServingError.ServingException e) {
            ErrorShape.OPENAI.reply(response, metrics, API, e);
        }

        @Override
        void failStream(ServingError.ServingException e) {
            ObjectNode r = response("failed");
            r.putArray("output");
            r.putObject("error").put("code", e.error.code).put("message", e.getMessage());
            send("response.failed", JSON.createObjectNode().set("response", r));
        }

        /** The output items: the message (its text, when any or when nothing else), then one item per call. */
        private ArrayNode output(Answer a) {
            ArrayNode out = JSON.createArrayNode();
            // A message streamed in part stays in the output even when the calls leave it no text.
            if (textOpen
                    || (a.content() != null
                            && (!a.content().isEmpty() || a.calls().isEmpty()))) {
                out.add(messageItem(a.content() == null ? "" : a.content(), "completed"));
            }
            for (int i = 0; i < a.calls().size(); i++) {
                ToolCallSyntax.Call call = a.calls().get(i);
                String callId = a.callIds().get(i);
                String freeform = parsed.customTools().contains(call.name()) ? customInput(call) : null;
                if (freeform != null) {
                    out.addObject()
                            .put("type", "custom_tool_call")
                            .put("id", freshId("ctc_", 32))
                            .put("call_id", callId)
                            .put("name", call.name())
                            .put("input", freeform)
                            .put("status", "completed");
                } else {
                    out.addObject()
                            .put("type", "function_call")
                            .put("id", freshId("fc_", 32))
                            .put("call_id", callId)
                            .put("name", call.name())
                            .put("arguments", call.argumentsJson())
                            .put("status", "completed");
                }
            }
            return out;
        }

        /** A custom tool's freeform input: the {@code input} string the model wrote, or null when it wrote other JSON. */
        private String customInput(ToolCallSyntax.Call call) {
            try {
                JsonNode args = JSON.readTree(call.argumentsJson());
                return args.path("input").isTextual() ? args.path("input").textValue() : null;
            } catch (Exception e) {
                return null;
            }
        }

        /** Keeps the conversation this response ends, for previous_response_id and retrieval. */
        private void remember(Answer a, ObjectNode r) {
            if (!parsed.store()) {
                return;
            }
            List<ChatMessage> conversation = new ArrayList<>(parsed.items());
            conversation.add(a.message());
            store.put(id, new ResponseStore.Stored(agent, session, List.copyOf(conversation), r));
        }

        private ObjectNode response(String status) {
            ObjectNode body = parsed.body();
            ObjectNode r = JSON.createObjectNode()
                    .put("id", id)
                    .put("object", "response")
                    .put("created_at", created)
                    .put("status", status)
                    .putNull("error")
                    .putNull("incomplete_details");
            if (parsed.instructions().isEmpty()) {
                r.putNull("instructions");
            } else {
                r.put("instructions", parsed.instructions());
            }
            r.put("max_output_tokens", req.maxTokens())
                    .put("model", server.name())
                    .put("parallel_tool_calls", body.path("parallel_tool_calls").asBoolean(true))
                    .put("previous_response_id", parsed.previousResponseId())
                    .put("store", parsed.store())
                    .put("temperature", req.temperature())
                    .put("top_p", req.topP())
                    .put("truncation", "disabled");
            r.set("tool_choice", body.hasNonNull("tool_choice") ? body.get("tool_choice") : JSON.valueToTree("auto"));
            r.set("tools", body.hasNonNull("tools") ? body.get("tools") : JSON.createArrayNode());
            r.putObject("text").putObject("format").put("type", "text");
            r.set("metadata", body.hasNonNull("metadata") ? body.get("metadata") : JSON.createObjectNode());
            return r;
        }

        private ObjectNode messageItem(String text, String status) {
            ObjectNode item = JSON.createObjectNode()
                    .put("type", "message")
                    .put("id", messageId)
                    .put("status", status)
                    .put("role", "assistant");
            item.putArray("content").add(outputText(text));
            return item;
        }

        private ObjectNode outputText(String text) {
            ObjectNode part = JSON.createObjectNode().put("type", "output_text").put("text", text);
            part.putArray("annotations");
            return part;
        }

        private ObjectNode part(int outputIndex) {
            return JSON.createObjectNode()
                    .put("item_id", messageId)
                    .put("output_index", outputIndex)
                    .put("content_index", 0);
        }

        private ObjectNode usage(int outputTokens) {
            ObjectNode u = JSON.createObjectNode().put("input_tokens", prompt.length);
            u.putObject("input_tokens_details").put("cached_tokens", 0);
            u.put("output_tokens", outputTokens);
            u.putObject("output_tokens_details").put("reasoning_tokens", 0);
            return u.put("total_tokens", prompt.length + outputTokens);
        }

        private void send(String type, ObjectNode data) {
            ObjectNode typed = JSON.createObjectNode().put("type", type).put("sequence_number", sequence++);
            typed.setAll(data);
            event(type, typed.toString());
        }
    }
}
