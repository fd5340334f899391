package dev.katmesh.inference;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

/**
 * One INFO line per HTTP request when its response ends: method, path, agent (the API key's), session, status, tokens (prompt +
 * completion, for the requests that generate) and time. An operator reads what a real agent sent and got from the
 * log alone. Health and metrics scrapes are left out (a line every few seconds would bury the requests).
 */
@ApplicationScoped
public class RequestLog {

    /** The routing-context key under which a generating request leaves "prompt+completion" token counts. */
    static final String TOKENS = "katmesh.tokens";

    /** The routing-context key under which an API leaves the agent its key authenticated. */
    static final String AGENT = "katmesh.agent";

    /** The routing-context key under which an API leaves the session it found (from a header, a body field, ...). */
    static final String SESSION = "katmesh.session";

    private static final Logger LOG = Logger.getLogger(RequestLog.class);

    void routes(@Observes Router router) {
        router.route().order(-100).handler(this::log);
    }

    private void log(RoutingContext ctx) {
        String path = ctx.request().path();
        if (!path.startsWith("/q/")) {
            long started = System.nanoTime();
            String method = ctx.request().method().name();
            String header = ctx.request().getHeader(SessionRecorder.SESSION_HEADER);
            ctx.addEndHandler(done -> LOG.infof(
                    "%s %s agent=%s session=%s status=%d tokens=%s %.0f ms",
                    method,
                    path,
                    ctx.get(AGENT) == null ? "-" : ctx.get(AGENT),
                    ctx.get(SESSION) != null ? ctx.get(SESSION) : header == null ? "-" : header,
                    ctx.response().getStatusCode(),
                    ctx.get(TOKENS) == null ? "-" : ctx.get(TOKENS),
                    (System.nanoTime() - started) / 1e6));
        }
        ctx.next();
    }
}
