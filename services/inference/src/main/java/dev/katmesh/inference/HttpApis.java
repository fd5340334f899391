package dev.katmesh.inference;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the HTTP protocols share at the door: authentication and errors in each API's own shape, and the answer
 * to any request no route took — that API's JSON error (a 405 on a served path, a 404 naming the served paths
 * otherwise), never the framework's HTML page: agents probe the paths they speak, and a client that parses the
 * body as JSON must read why.
 */
@ApplicationScoped
public class HttpApis {

    /** Every served HTTP path, as "METHOD path" ({path} segments are patterns), for the 404's message. */
    static final List<String> SERVED = Stream.of(OpenAiApi.SERVED, MessagesApi.SERVED, ResponsesApi.SERVED)
            .flatMap(List::stream)
            .toList();

    @Inject
    ApiKeys keys;

    @Inject
    ServingMetrics metrics;

    @Inject
    AgentQuotas quotas;

    /** A protocol's handler of one authenticated request. */
    interface Endpoint {
        void handle(RoutingContext ctx, String agent);
    }

    /**
     * Runs {@code endpoint} for the request's agent: a missing or wrong key, and any failure before the response
     * began, become {@code shape}'s error ({@code promptField} names the prompt when it is too long).
     */
    void guarded(RoutingContext ctx, String api, ErrorShape shape, String promptField, Endpoint endpoint) {
        try {
            String agent = keys.agent(
                            ctx.request().getHeader("Authorization"),
                            ctx.request().getHeader("x-api-key"))
                    .orElseThrow(() -> ServingError.UNAUTHENTICATED.with(
                            "Incorrect or missing API key: send 'Authorization: Bearer <key>'"
                                    + (shape == ErrorShape.ANTHROPIC ? " or 'x-api-key: <key>'" : ""),
                            null));
            ctx.put(RequestLog.AGENT, agent);
            endpoint.handle(ctx, agent);
        } catch (RuntimeException e) {
            shape.reply(ctx.response(), metrics, api, ServingError.from(e, promptField));
        }
    }

    /**
     * As {@link #guarded}, for a request that generates: admitted under its agent's quota first (or refused with 429
     * naming the limit), and charged the tokens it used when its response ends, however it ends.
     */
    void generating(RoutingContext ctx, String api, ErrorShape shape, String promptField, Endpoint endpoint) {
        guarded(ctx, api, shape, promptField, (c, agent) -> {
            AgentQuotas.Admission admission = quotas.admit(agent);
            c.addEndHandler(done -> {
                Long used = c.get(AgentQuotas.TOKENS_USED);
                admission.release(used == null ? 0 : used);
            });
            endpoint.handle(c, agent);
        });
    }

    void routes(@Observes Router router) {
        router.route().last().handler(this::unknown);
    }

    private void unknown(RoutingContext ctx) {
        String path = ctx.request().path();
        String method = ctx.request().method().name();
        boolean anthropic = path.startsWith("/v1/messages")
                || ctx.request().getHeader("anthropic-version") != null
                || ctx.request().getHeader("x-api-key") != null;
        boolean known =
                SERVED.stream().map(s -> s.substring(s.indexOf(' ') + 1)).anyMatch(p -> matches(p, path));
        ServingError.ServingException e = known
                ? ServingError.METHOD_NOT_ALLOWED.with(method + " is not served on " + path, null)
                : ServingError.NOT_FOUND.with(
                        "Unknown request URL: " + method + " " + path + " (served: " + String.join(", ", SERVED) + ")",
                        null);
        (anthropic ? ErrorShape.ANTHROPIC : ErrorShape.OPENAI)
                .reply(ctx.response(), metrics, anthropic ? MessagesApi.API : OpenAiApi.API, e);
    }

    private static boolean matches(String pattern, String path) {
        return path.matches(pattern.replaceAll("\\{[^/]+}", "[^/]+"));
    }
}
