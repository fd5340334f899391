package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.json.ToolCallSyntax;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.Outcome;
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
    HttpApis apis;

    /** The paths this API serves (the fallback's 404 names them). */
    static final List<String> SERVED = List.of(
            "POST /v1/chat/completions", "POST /v1/completions", "GET /v1/models", "POST /v1/sessions/{id}/end");

    void routes(@Observes Router router) {
        BodyHandler body = BodyHandler.create().setBodyLimit(MAX_BODY).setHandleFileUploads(false);
        router.post("/v1/chat/completions").handler(body).blockingHandler(ctx -> generating(ctx, this::chat), false);
        router.post("/v1/completions").handler(body).blockingHandler(ctx -> generating(ctx, this::completion), false);
        router.get("/v1/models").handler(ctx -> guarded(ctx, this::models));
        router.post("/v1/sessions/:id/end").handler(body).blockingHandler(ctx -> guarded(ctx, this::endSession), false);
    }

    private void guarded(RoutingContext ctx, HttpApis.Endpoint endpoint) {
        apis.guarded(ctx, API, ErrorShape.OPENAI, promptField(ctx), endpoint);
    }

    private void generating(RoutingContext ctx, HttpApis.Endpoint endpoint) {
        apis.generating(ctx, API, ErrorShape.OPENAI, promptField(ctx), endpoint);
    }

    private static String promptField(RoutingContext ctx) {
        return ctx.request().path().equals("/v1/completions") ? "prompt" : "messages";
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
        HttpReplies.json(ctx.response(), 200, list);
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
        HttpReplies.json(
                ctx.response(),
                200,
                JSON.createObjectNode()
                        .put("session_id", id)
                        .put("trajectory_id", ended.trajectoryId())
                        .putPOJO("trajectory_ids", ended.trajectoryIds())
                        .put("tokens", ended.tokens())
                        .put("turns", ended.turns())
                        .put("published", true));
    }

    // ------------------------------------------------------------------ chat completions

    private void chat(RoutingContext ctx, String agent) {
        GenerationRequest req =
                GenerationRequest.chat(HttpReplies.body(ctx), settings.defaultMaxTokens(), settings.maxChoices());
        server.requireModel(req.model());
        SessionRecorder.Turn turn = req.n() == 1
                ? sessions.begin(
                        agent,
                        ctx.request().getHeader(SessionRecorder.SESSION_HEADER),
                        ctx.request().getHeader(SessionRecorder.TASK_HEADER),
                        req.messages(),
                        req.toolsEnabled() ? req.tools() : List.of(),
                        req.templateVariables())
                : null;
        int[] prompt = turn != null
                ? turn.prompt()
                : server.chatPrompt(
                        req.messages(), req.toolsEnabled() ? req.tools() : List.of(), req.templateVariables());
        new OpenAiGeneration(ctx, req, "chatcmpl-", "chat.completion", prompt, turn) {
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
        }.start();
    }

    // ------------------------------------------------------------------ completions

    private void completion(RoutingContext ctx, String agent) {
        GenerationRequest req = GenerationRequest.completion(HttpReplies.body(ctx), settings.maxChoices());
        server.requireModel(req.model());
        int[] prompt = req.promptIds() != null
                ? req.promptIds()
                : server.model().tokenizer().encode(req.prompt());
        new OpenAiGeneration(ctx, req, "cmpl-", "text_completion", prompt, null) {
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
                return new Answer(c.text(), List.of(), c.finish(), callIdPrefix());
            }
        }.start();
    }

    // ------------------------------------------------------------------ one request's choices, as OpenAI writes them

    /** The n choices of a chat completions or completions request: OpenAI's chunks, bodies and errors. */
    private abstract class OpenAiGeneration extends Generation {
        final String id;
        final String object;
        final long created = System.currentTimeMillis() / 1000;
        final List<List<long[]>> pending = new ArrayList<>(); // per choice: {token, version} not yet sent in a chunk

        OpenAiGeneration(
                RoutingContext ctx,
                GenerationRequest req,
                String idPrefix,
                String object,
                int[] prompt,
                SessionRecorder.Turn turn) {
            super(ctx, req, OpenAiApi.this.server, OpenAiApi.this.metrics, API, prompt, turn);
            this.id = idPrefix + UUID.randomUUID().toString().replace("-", "");
            this.object = object;
            for (int i = 0; i < req.n(); i++) {
                pending.add(new ArrayList<>());
            }
        }

        @Override
        String responseId() {
            return id;
        }

        abstract ObjectNode streamDelta(int index, String text, boolean first);

        abstract ObjectNode finalChoice(int index, Completion c, Answer a);

        abstract void finalStreamChunks(int index, Completion c, Answer a);

        @Override
        void streamToken(int index, int token, long version, String textDelta, boolean first) {
            pending.get(index).add(new long[] {token, version});
            if (first || !textDelta.isEmpty()) {
                chunk(withTokens(streamDelta(index, textDelta, first), index));
            }
        }

        @Override
        void reject(ServingError.ServingException e) {
            fail(response, e);
        }

        @Override
        void failStream(ServingError.ServingException e) {
            event(null, ErrorShape.OPENAI.body(e).toString());
        }

        @Override
        void succeed(List<Answer> answers, int completionTokens) {
            ObjectNode usage = JSON.createObjectNode()
                    .put("prompt_tokens", prompt.length)
                    .put("completion_tokens", completionTokens)
                    .put("total_tokens", prompt.length + completionTokens);
            if (req.stream()) {
                for (int i = 0; i < choices.size(); i++) {
                    finalStreamChunks(i, choices.get(i), answers.get(i));
                }
                if (req.includeUsage()) {
                    ObjectNode last = envelope();
                    last.putArray("choices");
                    event(null, last.set("usage", usage).toString());
                }
                event(null, "[DONE]");
                response.end();
                return;
            }
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
            out.putObject("katmesh").put("policy_version", version());
            HttpReplies.json(response, 200, out);
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
            event(null, e.toString());
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

    private void fail(HttpServerResponse response, ServingError.ServingException e) {
        ErrorShape.OPENAI.reply(response, metrics, API, e);
    }
}
