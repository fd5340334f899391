package dev.katmesh.inference;

import dev.katmesh.policy.ContinuousBatcher;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The serving metrics (Prometheus names in docs/operations.md): queue depth, running batch, tokens
 * (rate = tokens/s), time to first token, inter-token latency, the version served, swaps, requests.
 */
@ApplicationScoped
public class ServingMetrics {

    @Inject
    MeterRegistry registry;

    @Inject
    PolicyServer server;

    private Counter tokens;
    private Timer timeToFirstToken;
    private Timer interTokenLatency;
    private Timer swapDuration;
    private Timer fetchDuration;
    private Timer captureLog;

    @PostConstruct
    void register() {
        Gauge.builder("katmesh.inference.queue.depth", () -> stats().queued())
                .description("Requests waiting for a slot")
                .register(registry);
        Gauge.builder("katmesh.inference.batch.running", () -> stats().running())
                .description("Sequences in the running batch")
                .register(registry);
        Gauge.builder("katmesh.inference.policy.version", server::version)
                .description("The policy version served")
                .register(registry);
        Gauge.builder("katmesh.inference.decode.steps", () -> stats().steps())
                .description("Decode steps run")
                .register(registry);
        tokens = Counter.builder("katmesh.inference.tokens.generated")
                .description("Tokens generated (rate: tokens/s)")
                .register(registry);
        timeToFirstToken = Timer.builder("katmesh.inference.time.to.first.token")
                .description("From submission to the first token")
                .publishPercentiles(0.5, 0.99)
                .publishPercentileHistogram()
                .register(registry);
        interTokenLatency = Timer.builder("katmesh.inference.inter.token.latency")
                .description("Between two tokens of one sequence")
                .publishPercentiles(0.5, 0.99)
                .publishPercentileHistogram()
                .register(registry);
        swapDuration = Timer.builder("katmesh.inference.swap")
                .description("Installing new weights between two decode steps")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        fetchDuration = Timer.builder("katmesh.inference.weights.fetch")
                .description("Fetching and verifying a version's weights")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
        captureLog = Timer.builder("katmesh.inference.capture.log")
                .description(
                        "A served request's capture record, from hand-over to the broker's ack: what its answer waits")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    private ContinuousBatcher.Stats stats() {
        return server.stats();
    }

    /** A token: its time to first token or inter-token gap in nanoseconds (-1 for not applicable). */
    void token(long firstTokenNanos, long gapNanos) {
        tokens.increment();
        if (firstTokenNanos >= 0) {
            timeToFirstToken.record(firstTokenNanos, TimeUnit.NANOSECONDS);
        }
        if (gapNanos >= 0) {
            interTokenLatency.record(gapNanos, TimeUnit.NANOSECONDS);
        }
    }

    void finished(ContinuousBatcher.Finish finish) {
        registry.counter(
                        "katmesh.inference.sequences.finished",
                        "finish",
                        finish.name().toLowerCase())
                .increment();
    }

    /** A request answered, by API and outcome (ok, or the error's code). */
    void request(String api, String outcome) {
        registry.counter("katmesh.inference.requests", "api", api, "outcome", outcome)
                .increment();
    }

    void swap(long nanos, Duration fetch) {
        swapDuration.record(nanos, TimeUnit.NANOSECONDS);
        fetchDuration.record(fetch);
    }

    void swapFailed(String reason) {
        registry.counter("katmesh.inference.swap.failures", "reason", reason).increment();
    }

    /** A session's end logged (ended, idle, evicted, shutdown, end_failed) or a request not captured. */
    void capture(String outcome) {
        registry.counter("katmesh.inference.sessions.captured", "outcome", outcome)
                .increment();
    }

    /** A served request's capture record: logged (acknowledged by the broker) or failed, after {@code nanos}. */
    void logged(String outcome, long nanos) {
        registry.counter("katmesh.inference.requests.logged", "outcome", outcome)
                .increment();
        captureLog.record(nanos, TimeUnit.NANOSECONDS);
    }
}
