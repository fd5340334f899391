package dev.katmesh.reward.feedback;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * The feedback join: UP when off, or while it runs; DOWN, with the reason, once it has failed for longer than a
 * minute (it retries by itself: a broker away for a moment is not a failure). Readiness only: a restart would not
 * help a join that cannot reach its broker.
 */
@Readiness
@ApplicationScoped
public class FeedbackJoinHealth implements HealthCheck {

    static final long FAILING_MS = 60_000;

    @Inject
    FeedbackJoin join;

    @Override
    public HealthCheckResponse call() {
        var b = HealthCheckResponse.named("katmesh feedback join")
                .withData("window", join.window().toString());
        JoinLoop loop = join.loop();
        if (!join.enabled() || loop == null) {
            return b.withData("state", join.enabled() ? "starting" : "off").up().build();
        }
        b.withData("state", loop.restored() ? "joining" : "reading its state").withData("held", loop.held());
        long since = loop.failingSinceMs();
        return since != 0 && System.currentTimeMillis() - since > FAILING_MS
                ? b.withData("failure", String.valueOf(loop.failure())).down().build()
                : b.up().build();
    }
}
