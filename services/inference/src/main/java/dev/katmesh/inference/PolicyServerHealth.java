package dev.katmesh.inference;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/** Readiness with what is served: the model, its version and the batch. UP without a model too (it says so). */
@Readiness
@ApplicationScoped
public class PolicyServerHealth implements HealthCheck {

    @Inject
    PolicyServer server;

    @Override
    public HealthCheckResponse call() {
        var b = HealthCheckResponse.named("policy")
                .up()
                .withData("model", server.name())
                .withData("loaded", server.loaded())
                .withData("policy_version", server.version());
        if (server.loaded()) {
            var s = server.stats();
            b.withData("running", s.running()).withData("queued", s.queued());
        }
        return b.build();
    }
}
