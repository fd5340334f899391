package dev.katmesh.inference;

import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.proto.json.ToolCallSyntax;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The choices of one HTTP generation request, whatever protocol carried it: submits them to the batcher, hears
 * their tokens on the decode thread, records the answer in the captured session, and hands the protocol what to
 * write — stream events as text becomes safe to show, then the final answer or the failure. A protocol
 * (chat completions, completions, Messages, Responses) only says how those look on the wire.
 *
 * <p>A client that disconnects cancels every choice (their batch slots are freed); a request with n > 1 is all
 * or nothing: one failed choice fails it.
 */
abstract class Generation implements Completion.Observer {

    /** An answer: content (null when only tool calls), parsed calls with fresh ids, finish reason. */
    record Answer(String content, List<ToolCallSyntax.Call> calls, Finish finish, List<String> callIds) {
        Answer(String content, List<ToolCallSyntax.Call> calls, Finish finish, String idPrefix) {
            this(
                    content,
                    calls,
                    finish,
                    calls.stream().map(c -> freshId(idPrefix, 24)).toList());
        }

        /** The assistant message the client was given: its text and its calls, with their ids. */
        ChatMessage message() {
            ChatMessage.Builder m =
                    ChatMessage.newBuilder().setRole("assistant").setContent(content == null ? "" : content);
            for (int i = 0; i < calls.size(); i++) {
                m.addToolCalls(ToolCall.newBuilder()
                        .setId(callIds.get(i))
                        .setType("function")
                        .setName(calls.get(i).name())
                        .setArguments(calls.get(i).argumentsJson()));
            }
            return m.build();
        }

        /** OpenAI's finish reason: tool_calls, length or stop. */
        String finishReason() {
            return !calls.isEmpty() ? "tool_calls" : finish == Finish.LENGTH ? "length" : "stop";
        }
    }

    final RoutingContext ctx;
    final HttpServerResponse response;
    final GenerationRequest req;
    final PolicyServer server;
    final ServingMetrics metrics;
    final String api;
    final int[] prompt;
    final SessionRecorder.Turn turn; // null: not captured
    final List<Completion> choices = new ArrayList<>();
    private final AtomicInteger open = new AtomicInteger();
    private final boolean[] started;
    private boolean opened; // the decode thread's: streamStarted ran
    volatile boolean closed;
    private final Context context; // the request's: where the answer is written once its capture is logged

    Generation(
            RoutingContext ctx,
            GenerationRequest req,
            PolicyServer server,
            ServingMetrics metrics,
            String api,
            int[] prompt,
            SessionRecorder.Turn turn) {
        this.ctx = ctx;
        this.response = ctx.response();
        this.req = req;
        this.server = server;
        this.metrics = metrics;
        this.api = api;
        this.prompt = prompt;
        this.turn = turn;
        this.started = new boolean[req.n()];
        this.context = ctx.vertx().getOrCreateContext();
    }

    /**
     * A stream's first write is due (its first token, or its end): a protocol that opens with events writes them
     * here. Called on the decode thread, before any {@link #streamToken}, so the events keep their order.
     */
    void streamStarted() {}

    /** A streamed choice's new token and the text it made safe to show ({@code first}: its first token). */
    void streamToken(int index, int token, long version, String textDelta, boolean first) {
        if (!textDelta.isEmpty()) {
            streamText(textDelta);
        }
    }

    /** Text of a one-choice stream that became safe to show (Messages and Responses write only text). */
    void streamText(String delta) {}

    /** Every choice ended well: the final chunks of a stream, or the whole answer. */
    abstract void succeed(List<Answer> answers, int completionTokens);

    /** A failure before anything was written: the protocol's error response. */
    abstract void reject(ServingError.ServingException e);

    /** A failure after a stream began (the status line is gone): the protocol's error event, then the end. */
    abstract void failStream(ServingError.ServingException e);

    /** The prefix of the ids this protocol gives tool calls ({@code call_}, Anthropic's {@code toolu_}). */
    String callIdPrefix() {
        return "call_";
    }

    /** A choice's answer: text, or tool calls parsed from it when the request offers tools. */
    Answer answer(Completion c) {
        String text = c.text();
        if (req.toolsEnabled()) {
            ToolCallSyntax.Parsed p = ToolCallSyntax.parse(text);
            if (!p.calls().isEmpty()) {
                return new Answer(p.content().isEmpty() ? null : p.content(), p.calls(), c.finish(), callIdPrefix());
            }
        }
        return new Answer(text, List.of(), c.finish(), callIdPrefix());
    }

    /** Submits every choice; a refusal before the stream began is thrown for the caller's error response. */
    final void start() {
        try {
            for (int i = 0; i < req.n(); i++) {
                choices.add(
                        new Completion(server, metrics, prompt, req.params(i), req.stop(), req.toolsEnabled(), this));
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
            choices.forEach(Completion::cancel);
            if (turn != null) {
                turn.abandon();
            }
            if (!response.headWritten()) {
                throw e;
            }
            metrics.request(api, ServingError.from(e).error.code);
            response.end();
        }
    }

    @Override
    public final void onToken(Completion c, int token, float logprob, long version, String textDelta) {
        if (!req.stream() || closed) {
            return;
        }
        int index = choices.indexOf(c);
        boolean first = !started[index];
        started[index] = true;
        open();
        streamToken(index, token, version, textDelta, first);
    }

    @Override
    public final void onDone(Completion c) {
        if (open.decrementAndGet() > 0) {
            return;
        }
        // The usage's total (the prompt once, every choice's tokens), whatever the outcome: what the agent's quota is
        // charged (AgentQuotas); a request cancelled midway is charged what it generated.
        ctx.put(
                AgentQuotas.TOKENS_USED,
                (long) prompt.length
                        + choices.stream().mapToInt(Completion::count).sum());
        Completion failed = choices.stream()
                .filter(x -> x.finish() != Finish.STOP && x.finish() != Finish.LENGTH)
                .findFirst()
                .orElse(null);
        List<Answer> answers = new ArrayList<>();
        List<CompletableFuture<Void>> logged = new ArrayList<>();
        for (Completion x : choices) {
            Answer a = failed == null ? answer(x) : null;
            answers.add(a);
            logged.add(record(x, a).toCompletableFuture());
        }
        // The response completes once its request is on the capture log (a failed write is counted, not the agent's
        // problem): a served request is durable before the agent sees the end of its answer.
        CompletableFuture.allOf(logged.toArray(CompletableFuture[]::new))
                .whenComplete((v, e) -> context.runOnContext(x -> finish(failed, answers)));
    }

    private void finish(Completion failed, List<Answer> answers) {
        if (closed) {
            metrics.request(api, "client_closed");
            return;
        }
        if (failed != null) {
            ServingError.ServingException e = ServingError.of(failed.finish()).with(failed.message(), null);
            if (req.stream() && response.headWritten()) {
                metrics.request(api, e.error.code);
                failStream(e);
                response.end();
            } else {
                reject(e);
            }
            return;
        }
        int completionTokens = choices.stream().mapToInt(Completion::count).sum();
        ctx.put(RequestLog.TOKENS, prompt.length + "+" + completionTokens);
        if (req.stream()) {
            open();
        }
        succeed(answers, completionTokens);
        metrics.request(api, "ok");
    }

    private void open() {
        if (!opened) {
            opened = true;
            streamStarted();
        }
    }

    /**
     * The captured session keeps the answer as the assistant message the client was given; completes when the
     * request is on the capture log (at once when it is not captured).
     */
    private CompletionStage<Void> record(Completion c, Answer a) {
        if (turn == null) {
            return CompletableFuture.completedFuture(null);
        }
        if (a == null || (c.finish() != Finish.STOP && c.finish() != Finish.LENGTH)) {
            turn.abandon();
            return CompletableFuture.completedFuture(null);
        }
        return turn.complete(responseId(), c, a.message());
    }

    /** The id of the response as the client receives it (the captured request's id). */
    abstract String responseId();

    /** One server-sent event: {@code event:} line when named, then the data. */
    final void event(String name, String data) {
        if (!closed) {
            response.write((name == null ? "" : "event: " + name + "\n") + "data: " + data + "\n\n");
        }
    }

    /** The version that made the answer's last token. */
    final long version() {
        return choices.get(0).lastVersion(server.version());
    }

    static String freshId(String prefix, int length) {
        return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, Math.min(32, length));
    }
}
