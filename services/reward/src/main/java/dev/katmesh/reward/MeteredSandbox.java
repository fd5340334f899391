package dev.katmesh.reward;

import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A sandbox whose runs are timed by verdict: the scoring's bottleneck, made visible. */
final class MeteredSandbox implements Sandbox {

    private final Sandbox delegate;
    private final MeterRegistry registry;

    MeteredSandbox(Sandbox delegate, MeterRegistry registry) {
        this.delegate = delegate;
        this.registry = registry;
    }

    @Override
    public SandboxResult run(List<String> command, Path workspace, SandboxLimits limits)
            throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        String verdict = "failed";
        try {
            SandboxResult r = delegate.run(command, workspace, limits);
            verdict = r.verdict().name().toLowerCase();
            return r;
        } finally {
            Timer.builder("katmesh.reward.sandbox.run")
                    .description("Test runs in the sandbox, by verdict")
                    .tag("verdict", verdict)
                    .register(registry)
                    .record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        }
    }
}
