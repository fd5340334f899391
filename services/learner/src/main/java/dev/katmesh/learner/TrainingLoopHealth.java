package dev.katmesh.learner;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/** UP while the training loop runs; DOWN, with the reason, once it has stopped on an error. */
@Liveness
@Readiness
@ApplicationScoped
public class TrainingLoopHealth implements HealthCheck {

    @Inject
    TrainingLoop loop;

    @Override
    public HealthCheckResponse call() {
        String failure = loop.failure();
        var builder = HealthCheckResponse.named("katmesh training loop")
                .withData("mode", loop.trainingEnabled() ? "training" : "count-only")
                .withData(
                        "policy_version",
                        loop.published().map(CheckpointStore.State::version).orElse(-1L));
        return failure == null
                ? builder.up().build()
                : builder.down().withData("failure", failure).build();
    }
}
