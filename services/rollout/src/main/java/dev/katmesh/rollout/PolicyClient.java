package dev.katmesh.rollout;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.GenerateResponse;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.ModelInfoRequest;
import dev.katmesh.proto.v1.SamplingParams;
import dev.katmesh.proto.v1.TokenizeRequest;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.tasks.AgentPolicy;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcClient;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The inference service over gRPC (katmesh.v1.Inference), with its back-pressure handled: a call
 * refused as RESOURCE_EXHAUSTED (or UNAVAILABLE while inference restarts) is retried with backoff and
 * shrinks the episode concurrency ({@link AdaptiveLimit}); a normal call lets it grow again.
 */
@ApplicationScoped
public class PolicyClient implements AgentPolicy {

    static final Set<Status.Code> RETRIABLE = Set.of(Status.Code.RESOURCE_EXHAUSTED, Status.Code.UNAVAILABLE);

    @GrpcClient("inference")
    InferenceGrpc.InferenceBlockingStub stub;

    @Inject
    RolloutSettings settings;

    @Inject
    MeterRegistry registry;

    private AdaptiveLimit limit;
    private InferenceGrpc.InferenceBlockingStub authed;

    /** The episode concurrency this client's back-pressure adapts (a method: callers hold a CDI proxy). */
    public AdaptiveLimit limit() {
        return limit;
    }

    @PostConstruct
    void init() {
        var c = settings.concurrency();
        limit = new AdaptiveLimit(c.min(), c.max(), c.initial());
        authed = settings.apiKey()
                .filter(k -> !k.isBlank())
                .map(k -> {
                    Metadata md = new Metadata();
                    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + k);
                    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
                })
                .orElse(stub);
        Gauge.builder("katmesh.rollout.concurrency.limit", limit::limit)
                .description("Episodes allowed at once (adapts to inference back-pressure)")
                .register(registry);
        Gauge.builder("katmesh.rollout.episodes.running", limit::running)
                .description("Episodes running")
                .register(registry);
    }

    @Override
    public int[] render(List<ChatMessage> messages, List<ToolSchema> tools) {
        return ids(call(() -> authed.withDeadlineAfter(30, TimeUnit.SECONDS)
                .tokenize(TokenizeRequest.newBuilder()
                        .addAllMessages(messages)
                        .addAllTools(tools)
                        .setAddGenerationPrompt(true)
                        .build())
                .getTokenIdsList()));
    }

    @Override
    public int[] continuation(List<ChatMessage> messages, List<ToolSchema> tools, int after) {
        return ids(call(() -> authed.withDeadlineAfter(30, TimeUnit.SECONDS)
                .tokenize(TokenizeRequest.newBuilder()
                        .addAllMessages(messages)
                        .addAllTools(tools)
                        .setAddGenerationPrompt(true)
                        .setContinueAfter(after)
                        .build())
                .getTokenIdsList()));
    }

    @Override
    public Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed) {
        GenerateRequest.Builder r = GenerateRequest.newBuilder()
                .setSampling(SamplingParams.newBuilder()
                        .setMaxNewTokens(maxNewTokens)
                        .setTemperature(temperature)
                        .setTopP(topP)
                        .setSeed(seed));
        for (int id : prompt) {
            r.addPromptTokenIds(id);
        }
        long t0 = System.nanoTime();
        GenerateResponse g =
                call(() -> authed.withDeadlineAfter(settings.episodeTimeout().toMillis(), TimeUnit.MILLISECONDS)
                        .generate(r.build()));
        if (System.nanoTime() - t0 > settings.concurrency().slowCall().toNanos()) {
            limit.congested();
        }
        int n = g.getTokenIdsCount();
        int[] tokens = new int[n];
        float[] lps = new float[n];
        long[] versions = new long[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = g.getTokenIds(i);
            lps[i] = g.getLogprobs(i);
            versions[i] = g.getTokenPolicyVersions(i);
        }
        return new Generated(tokens, lps, versions, g.getText(), g.getFinishReason());
    }

    private <T> T call(Supplier<T> rpc) {
        long backoff = 200;
        for (int attempt = 1; ; attempt++) {
            try {
                T out = rpc.get();
                limit.ok();
                return out;
            } catch (StatusRuntimeException e) {
                if (!RETRIABLE.contains(e.getStatus().getCode()) || attempt >= 30) {
                    throw e;
                }
                limit.congested();
                registry.counter(
                                "katmesh.rollout.backpressure",
                                "code",
                                e.getStatus().getCode().name())
                        .increment();
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                backoff = Math.min(5000, backoff * 2);
            }
        }
    }

    private volatile Integer endOfTurn;

    @Override
    public int endOfTurn() {
        if (endOfTurn == null) {
            var info = call(() ->
                    authed.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfo(ModelInfoRequest.getDefaultInstance()));
            if (info.getEosTokenIdsCount() == 0) {
                throw new IllegalStateException("the served model declares no end-of-sequence token");
            }
            endOfTurn = info.getEosTokenIds(0);
        }
        return endOfTurn;
    }

    private static int[] ids(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }
}
