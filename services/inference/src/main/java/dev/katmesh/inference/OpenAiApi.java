package dev.katmesh.inference;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.proto.json.ToolCallSyntax;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.ToolCall;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The OpenAI-compatible HTTP API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
 * and POST /v1/sessions/{id}/end (katmesh's: ends a captured session now). Bearer keys from
 * {@link ApiKeys}; errors in OpenAI's shape {@code {"error":{"message","type","param","code"}}};
 * streams are server-sent events ending with {@code data: [DONE]}. A client that disconnects frees
 * its batch slots.
 */
@ApplicationScoped
public class OpenAiApi {

    static final String API = "openai";
    static final int MAX_BODY = 16 << 20;
    /** Strict: trailing text after the JSON value is a 400, not silently ignored. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    @Inject
    PolicyServer server;

    @Inject
    ServingMetrics metrics;

    @Inject
    InferenceSettings settings;

    @Inject
    ApiKeys keys;

    @Inject
    SessionRecorder sessions;

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create().setBodyLimit(MAX_BODY).setHandleFileUploads(false);
        router.post("/v1/chat/completions").handler(body).blockingHandler(ctx -> guarded(ctx, this::chat), false);
        router.post("/v1/completions").handler(body).blockingHandler(ctx -> guarded(ctx, this::completion), false);
        router.get("/v1/models").handler(ctx -> guarded(ctx, this::models));
        router.post("/v1/sessions/:id/end").handler(body).blockingHandler(ctx -> guarded(ctx, this::endSession), false);
        // Last: any request no route took gets the API's JSON error, never the framework's HTML page (agents
        // probe paths they speak, and a client that parses the body as JSON must read why).
        router.route().last().handler(this::unknown);
    }

    private void unknown(RoutingContext ctx) {
        String path = ctx.request().path();
        boolean known = path.equals("/v1/chat/completions")
                || path.equals("/v1/completions")
                || path.equals("/v1/models")
                || path.matches("/v1/sessions/[^/]+/end");
        ServingError.ServingException e = known
                ? ServingError.METHOD_NOT_ALLOWED.with(ctx.request().method() + " is not served on " + path, null)
                : ServingError.NOT_FOUND.with(
                        "Unknown request URL: " + ctx.request().method() + " " + path
                                + " (served: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, "
                                + "POST /v1/sessions/{id}/end)",
                        null);
        fail(ctx.response(), e);
    }

    private interface Endpoint {
        void handle(RoutingContext ctx, String agent);
    }

    /** Authentication, and errors turned into OpenAI's shape. */
    private void guarded(RoutingContext ctx, Endpoint endpoint) {
        try {
            String agent = keys.agent(ctx.request().getHeader("Authorization"))
                    .orElseThrow(() -> ServingError.UNAUTHENTICATED.with(
                            "Incorrect or missing API key: send 'Authorization: Bearer <key>'", null));
            endpoint.handle(ctx, agent);
        } catch (RuntimeException e) {
            String prompt = ctx.request().path().equals("/v1/completions") ? "prompt" : "messages";
            fail(ctx.response(), ServingError.from(e, prompt));
        }
    }

    private void models(RoutingContext ctx, String agent) {
        ObjectNode list = JSON.createObjectNode().put("object", "list");
        ArrayNode data = list.putArray("data");
        if (server.loaded()) {
            data.addObject()
                    .put("id", server.name())
                    .put("object", "model")
                    .put("created", 0)
                    .put("owned_by", "katmesh")
                    .put("policy_version", server.version());
        }
        json(ctx.response(), 200, list);
    }

    private void endSession(RoutingContext ctx, String agent) {
        String id = ctx.pathParam("id");
        // The agent may report how the session ended (its submitted file or answer, its own test runs,
        // its user's feedback): the reward scores the captured trajectory with it.
        Outcome outcome = null;
        String text = ctx.body() == null ? null : ctx.body().asString();
        if (text != null && !text.isBlank()) {
            try {
                JsonNode body = JSON.readTree(text);
                if (body != null && body.hasNonNull("outcome")) {
                    outcome = TrajectoryJson.outcome(body.get("outcome"), "outcome");
                }
            } catch (TrajectoryJsonException e) {
                throw ServingError.INVALID_REQUEST.with(e.getMessage(), e.path());
            } catch (IOException e) {
                throw ServingError.INVALID_REQUEST.with("the body is not JSON: " + e.getMessage(), null);
            }
        }
        SessionRecorder.Ended ended = sessions.end(agent, id, outcome)
                .orElseThrow(() -> ServingError.NOT_FOUND.with("no open session '" + id + "' for this API key", "id"));
        json(
                ctx.response(),
                200,
                JSON.createObjectNode()
                        .put("session_id", id)
                        .put("trajectory_id", ended.trajectoryId())
                        .put("tokens", ended.tokens())
                        .put("turns", ended.turns())
                        .put("published", true));
    }

    // ------------------------------------------------------------------ chat completions

    private void chat(RoutingContext ctx, String agent) {
        OpenAiRequest req = OpenAiRequest.chat(body(ctx), settings.defaultMaxTokens(), settings.maxChoices());
        checkModel(req.model());
        SessionRecorder.Turn turn = req.n() == 1
                ? sessions.begin(
                        agent,
                        ctx.request().getHeader(SessionRecorder.SESSION_HEADER),
                        ctx.request().getHeader(SessionRecorder.TASK_HEADER),
                        req.messages(),
                        req.toolsEnabled() ? req.tools() : List.of())
                : null;
        int[] prompt = turn != null
                ? turn.prompt()
                : server.chatPrompt(req.messages(), req.toolsEnabled() ? req.tools() : List.of());
        Run run = new Run(ctx, req, "chatcmpl-", "chat.completion", prompt) {
            @Override
            ObjectNode streamDelta(int index, String text, boolean first) {
                ObjectNode delta = JSON.createObjectNode();
                if (first) {
                    delta.put("role", "assistant");
                }
                delta.put("content", text);
                return choice(index).set("delta", delta);
            }

            @Override
            ObjectNode finalChoice(int index, Completion c, Answer a) {
                ObjectNode choice = choice(index);
                ObjectNode message = choice.putObject("message").put("role", "assistant");
                if (a.content() == null) {
                    message.putNull("content");
                } else {
                    message.put("content", a.content());
                }
                if (!a.calls().isEmpty()) {
                    message.set("tool_calls", toolCalls(a.calls(), a.callIds()));
                }
                if (req.logprobs()) {
                    choice.putObject("logprobs").set("content", tokenLogprobs(c));
                } else {
                    choice.putNull("logprobs");
                }
                return choice.put("finish_reason", a.finishReason());
            }

            @Override
            void finalStreamChunks(int index, Completion c, Answer a) {
                ObjectNode delta = JSON.createObjectNode();
                String rest = a.calls().isEmpty() ? c.unstreamed() : "";
                if (!rest.isEmpty()) {
                    delta.put("content", rest);
                }
                if (!a.calls().isEmpty()) {
                    ArrayNode calls = toolCalls(a.calls(), a.callIds());
                    for (int i = 0; i < calls.size(); i++) {
                        ((ObjectNode) calls.get(i)).put("index", i);
                    }
                    delta.set("tool_calls", calls);
                }
                ObjectNode choice = choice(index).set("delta", delta);
                if (req.logprobs()) {
                    choice.putObject("logprobs").set("content", tokenLogprobs(c));
                }
                choice.put("finish_reason", a.finishReason());
                chunk(withTokens(choice, index));
            }

            @Override
            Answer answer(Completion c) {
                String text = c.text();
                if (req.toolsEnabled()) {
                    ToolCallSyntax.Parsed p = ToolCallSyntax.parse(text);
                    if (!p.calls().isEmpty()) {
                        return new Answer(p.content().isEmpty() ? null : p.content(), p.calls(), "tool_calls");
                    }
                }
                return new Answer(text, List.of(), c.finish() == Finish.LENGTH ? "length" : "stop");
            }

            @Override
            void recorded(Completion c, Answer a) {
                if (turn == null) {
                    return;
                }
                if (c.finish() == Finish.STOP || c.finish() == Finish.LENGTH) {
                    ChatMessage.Builder m = ChatMessage.newBuilder()
                            .setRole("assistant")
                            .setContent(a.content() == null ? "" : a.content());
                    for (int i = 0; i < a.calls().size(); i++) {
                        m.addToolCalls(ToolCall.newBuilder()
                                .setId(a.callIds().get(i))
                                .setType("function")
                                .setName(a.calls().get(i).name())
                                .setArguments(a.calls().get(i).argumentsJson()));
                    }
                    turn.complete(c, m.build());
                } else {
                    turn.abandon();
                }
            }
        };
        run.start(turn);
    }

    // ------------------------------------------------------------------ completions

    private void completion(RoutingContext ctx, String agent) {
        OpenAiRequest req = OpenAiRequest.completion(body(ctx), settings.maxChoices());
        checkModel(req.model());
        int[] prompt = req.promptIds() != null
                ? req.promptIds()
                : server.model().tokenizer().encode(req.prompt());
        Run run = new Run(ctx, req, "cmpl-", "text_completion", prompt) {
            @Override
            ObjectNode streamDelta(int index, String text, boolean first) {
                return choice(index).put("text", text).putNull("logprobs").putNull("finish_reason");
            }

            @Override
            ObjectNode finalChoice(int index, Completion c, Answer a) {
                ObjectNode choice = choice(index).put("text", a.content());
                if (req.logprobs()) {
                    choice.set("logprobs", legacyLogprobs(c));
                } else {
                    choice.putNull("logprobs");
                }
                return choice.put("finish_reason", a.finishReason());
            }

            @Override
            void finalStreamChunks(int index, Completion c, Answer a) {
                ObjectNode choice = choice(index).put("text", c.unstreamed());
                if (req.logprobs()) {
                    choice.set("logprobs", legacyLogprobs(c));
                } else {
                    choice.putNull("logprobs");
                }
                chunk(withTokens(choice.put("finish_reason", a.finishReason()), index));
            }

            @Override
            Answer answer(Completion c) {
                return new Answer(c.text(), List.of(), c.finish() == Finish.LENGTH ? "length" : "stop");
            }
        };
        run.start(null);
    }

    // ------------------------------------------------------------------ one request's choices

    /** An answer: content (null when only tool calls), parsed calls with fresh ids, finish reason. */
    record Answer(String content, List<ToolCallSyntax.Call> calls, String finishReason, List<String> callIds) {
        Answer(String content, List<ToolCallSyntax.Call> calls, String finishReason) {
            this(
                    content,
                    calls,
                    finishReason,
                    calls.stream()
                            .map(c -> "call_"
                                    + UUID.randomUUID()
                                            .toString()
                                            .replace("-", "")
                                            .substring(0, 24))
                            .toList());
        }
    }

    /** The n choices of one request, streamed or collected. */
    private abstract class Run implements Completion.Observer {
        final RoutingContext ctx;
        final HttpServerResponse response;
        final OpenAiRequest req;
        final String id;
        final String object;
        final long created = System.currentTimeMillis() / 1000;
        final int[] prompt;
        final List<Completion> choices = new ArrayList<>();
        final AtomicInteger open = new AtomicInteger();
        final boolean[] started;
        final List<List<long[]>> pending = new ArrayList<>(); // per choice: {token, version} not yet sent in a chunk
        volatile boolean closed;

        Run(RoutingContext ctx, OpenAiRequest req, String idPrefix, String object, int[] prompt) {
            this.ctx = ctx;
            this.response = ctx.response();
            this.req = req;
            this.id = idPrefix + UUID.randomUUID().toString().replace("-", "");
            this.object = object;
            this.prompt = prompt;
            this.started = new boolean[req.n()];
            for (int i = 0; i < req.n(); i++) {
                pending.add(new ArrayList<>());
            }
        }

        abstract ObjectNode streamDelta(int index, String text, boolean first);

        abstract ObjectNode finalChoice(int index, Completion c, Answer a);

        abstract void finalStreamChunks(int index, Completion c, Answer a);

        abstract Answer answer(Completion c);

        void recorded(Completion c, Answer a) {}

        void start(SessionRecorder.Turn turn) {
            try {
                for (int i = 0; i < req.n(); i++) {
                    choices.add(new Completion(
                            server, metrics, prompt, req.params(i), req.stop(), req.toolsEnabled(), this));
                }
                open.set(req.n());
                response.closeHandler(v -> {
                    closed = true;
                    choices.forEach(Completion::cancel);
                });
                if (req.stream()) {
                    response.setChunked(true)
                            .putHeader("Content-Type", "text/event-stream")
                            .putHeader("Cache-Control", "no-cache");
                }
                for (Completion c : choices) {
                    c.start(server, 0);
                }
            } catch (RuntimeException e) {
                choices.forEach(Completion::cancel); // an n>1 request is all or nothing
                if (turn != null) {
                    turn.abandon();
                }
                if (!response.headWritten()) {
                    throw e;
                }
                ServingError.ServingException s = ServingError.from(e);
                metrics.request(API, s.error.code);
                response.end();
            }
        }

        @Override
        public void onToken(Completion c, int token, float logprob, long version, String textDelta) {
            if (!req.stream() || closed) {
                return;
            }
            int index = choices.indexOf(c);
            pending.get(index).add(new long[] {token, version});
            boolean first = !started[index];
            if (first || !textDelta.isEmpty()) {
                started[index] = true;
                chunk(withTokens(streamDelta(index, textDelta, first), index));
            }
        }

        @Override
        public void onDone(Completion c) {
            if (open.decrementAndGet() > 0) {
                return;
            }
            Completion failed = choices.stream()
                    .filter(x -> x.finish() != Finish.STOP && x.finish() != Finish.LENGTH)
                    .findFirst()
                    .orElse(null);
            List<Answer> answers = new ArrayList<>();
            for (Completion x : choices) {
                Answer a = failed == null ? answer(x) : null;
                answers.add(a);
                recorded(x, a);
            }
            if (closed) {
                metrics.request(API, "client_closed");
                return;
            }
            if (failed != null) {
                ServingError.ServingException e =
                        ServingError.of(failed.finish()).with(failed.message(), null);
                if (req.stream()) {
                    metrics.request(API, e.error.code);
                    event(errorBody(e).toString()); // the status line is gone: an error event, then the end
                    response.end();
                } else {
                    fail(response, e);
                }
                return;
            }
            int completionTokens = choices.stream().mapToInt(Completion::count).sum();
            ObjectNode usage = JSON.createObjectNode()
                    .put("prompt_tokens", prompt.length)
                    .put("completion_tokens", completionTokens)
                    .put("total_tokens", prompt.length + completionTokens);
            ctx.put(RequestLog.TOKENS, prompt.length + "+" + completionTokens);
            long version = choices.get(0).lastVersion(server.version());
            if (req.stream()) {
                for (int i = 0; i < choices.size(); i++) {
                    finalStreamChunks(i, choices.get(i), answers.get(i));
                }
                if (req.includeUsage()) {
                    ObjectNode last = envelope();
                    last.putArray("choices");
                    event(last.set("usage", usage).toString());
                }
                event("[DONE]");
                response.end();
            } else {
                ObjectNode out = envelope();
                ArrayNode list = out.putArray("choices");
                for (int i = 0; i < choices.size(); i++) {
                    ObjectNode choice = finalChoice(i, choices.get(i), answers.get(i));
                    ObjectNode ext = choice.putObject("katmesh");
                    ArrayNode ids = ext.putArray("token_ids");
                    ArrayNode versions = ext.putArray("policy_versions");
                    for (int t : choices.get(i).tokens()) {
                        ids.add(t);
                    }
                    for (long v : choices.get(i).versions()) {
                        versions.add(v);
                    }
                    list.add(choice);
                }
                out.set("usage", usage);
                out.putObject("katmesh").put("policy_version", version);
                json(response, 200, out);
            }
            metrics.request(API, "ok");
        }

        /**
         * katmesh's extension of a chunk's choice: the token ids (and the versions that made them) since
         * the previous chunk, so that agents and tests see exactly what was sampled. SDKs ignore it.
         */
        ObjectNode withTokens(ObjectNode choice, int index) {
            List<long[]> p = pending.get(index);
            ObjectNode ext = choice.putObject("katmesh");
            ArrayNode ids = ext.putArray("token_ids");
            ArrayNode versions = ext.putArray("policy_versions");
            for (long[] t : p) {
                ids.add(t[0]);
                versions.add(t[1]);
            }
            p.clear();
            return choice;
        }

        ObjectNode envelope() {
            return JSON.createObjectNode()
                    .put("id", id)
                    .put("object", req.stream() && object.equals("chat.completion") ? "chat.completion.chunk" : object)
                    .put("created", created)
                    .put("model", server.name())
                    .put("system_fingerprint", "katmesh-v" + server.version());
        }

        ObjectNode choice(int index) {
            return JSON.createObjectNode().put("index", index);
        }

        void chunk(ObjectNode choice) {
            ObjectNode e = envelope();
            e.putArray("choices").add(choice);
            if (req.includeUsage()) {
                e.putNull("usage");
            }
            event(e.toString());
        }

        void event(String data) {
            if (!closed) {
                response.write("data: " + data + "\n\n");
            }
        }

        ArrayNode tokenLogprobs(Completion c) {
            ArrayNode out = JSON.createArrayNode();
            int[] tokens = c.tokens();
            float[] lps = c.logprobs();
            for (int i = 0; i < tokens.length; i++) {
                String t = server.model().tokenizer().decode(new int[] {tokens[i]});
                ObjectNode e = out.addObject().put("token", t).put("logprob", lps[i]);
                ArrayNode bytes = e.putArray("bytes");
                for (byte b : t.getBytes(StandardCharsets.UTF_8)) {
                    bytes.add(b & 0xff);
                }
                e.putArray("top_logprobs");
            }
            return out;
        }

        ObjectNode legacyLogprobs(Completion c) {
            ObjectNode out = JSON.createObjectNode();
            ArrayNode tokens = out.putArray("tokens");
            ArrayNode lps = out.putArray("token_logprobs");
            int[] ids = c.tokens();
            float[] lp = c.logprobs();
            for (int i = 0; i < ids.length; i++) {
                tokens.add(server.model().tokenizer().decode(new int[] {ids[i]}));
                lps.add(lp[i]);
            }
            out.putNull("top_logprobs");
            out.putArray("text_offset");
            return out;
        }
    }

    static ArrayNode toolCalls(List<ToolCallSyntax.Call> calls, List<String> ids) {
        ArrayNode out = JSON.createArrayNode();
        for (int i = 0; i < calls.size(); i++) {
            ObjectNode call = out.addObject().put("id", ids.get(i)).put("type", "function");
            call.putObject("function")
                    .put("name", calls.get(i).name())
                    .put("arguments", calls.get(i).argumentsJson());
        }
        return out;
    }

    // ------------------------------------------------------------------ helpers

    private void checkModel(String model) {
        server.model(); // 503 before 404 when nothing is served
        if (!model.equals(server.name())) {
            throw ServingError.MODEL_NOT_FOUND.with(
                    "The model '" + model + "' does not exist; this server serves '" + server.name() + "'", "model");
        }
    }

    private static JsonNode body(RoutingContext ctx) {
        if (ctx.body() == null || ctx.body().length() == 0) {
            throw ServingError.INVALID_REQUEST.with("the request has no body (a JSON object is expected)", null);
        }
        try {
            return JSON.readTree(ctx.body().buffer().getBytes());
        } catch (Exception e) {
            throw ServingError.INVALID_REQUEST.with(
                    "the body is not valid JSON: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    null);
        }
    }

    private static ObjectNode errorBody(ServingError.ServingException e) {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode err = root.putObject("error").put("message", e.getMessage()).put("type", e.error.type);
        if (e.param == null) {
            err.putNull("param");
        } else {
            err.put("param", e.param);
        }
        err.put("code", e.error.code);
        return root;
    }

    private void fail(HttpServerResponse response, ServingError.ServingException e) {
        metrics.request(API, e.error.code);
        if (response.ended() || response.closed()) {
            return;
        }
        if (response.headWritten()) {
            response.end();
            return;
        }
        if (e.error == ServingError.OVERLOADED) {
            response.putHeader("Retry-After", "1");
        }
        json(response, e.error.http, errorBody(e));
    }

    private static void json(HttpServerResponse response, int status, JsonNode body) {
        if (!response.closed() && !response.ended()) {
            response.setStatusCode(status)
                    .putHeader("Content-Type", "application/json")
                    .end(body.toString());
        }
    }
}
