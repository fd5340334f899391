package dev.katmesh.inference;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcClient;
import io.quarkus.logging.Log;
import io.smallrye.common.annotation.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * Hot weight swap: a PolicyVersion on katmesh.policy.versions newer than the one served makes this
 * instance fetch the learner's newest version over the Weights stream, verify it, and install it
 * between two decode steps. A failed fetch keeps the old version serving and is retried with backoff;
 * after the last attempt the next announcement tries again.
 */
@ApplicationScoped
public class WeightSync {

    @Inject
    PolicyServer server;

    @Inject
    InferenceSettings settings;

    @Inject
    ServingMetrics metrics;

    @GrpcClient("weights")
    WeightsGrpc.WeightsBlockingStub learner;

    /** The learner's Weights stub carrying inference's credential (katmesh.inference.weights-token), if one is set. */
    private WeightsGrpc.WeightsBlockingStub weights() {
        return settings.weightsToken()
                .map(token -> {
                    io.grpc.Metadata md = new io.grpc.Metadata();
                    md.put(
                            io.grpc.Metadata.Key.of("authorization", io.grpc.Metadata.ASCII_STRING_MARSHALLER),
                            "Bearer " + token);
                    return learner.withInterceptors(io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(md));
                })
                .orElse(learner);
    }

    @Incoming("policy-versions")
    @Blocking
    public void onVersion(byte[] payload) throws InterruptedException {
        PolicyVersion announced;
        try {
            announced = PolicyVersion.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            metrics.swapFailed("bad_announcement");
            Log.warnf("ignoring an unreadable record on katmesh.policy.versions: %s", e.getMessage());
            return;
        }
        if (!server.loaded() || announced.getVersion() <= server.version()) {
            return;
        }
        long backoff = settings.swap().backoff().toMillis();
        for (int attempt = 1; attempt <= settings.swap().attempts(); attempt++) {
            try {
                WeightsGrpc.WeightsBlockingStub weights = weights();
                PolicyVersion latest =
                        weights.withDeadlineAfter(10, TimeUnit.SECONDS).latest(LatestRequest.getDefaultInstance());
                if (latest.getVersion() <= server.version()) {
                    if (server.version() >= announced.getVersion()) {
                        return; // another announcement already brought it
                    }
                    // The learner announced a version its Weights service does not serve yet: ask again.
                    metrics.swapFailed("not_yet_served");
                    Thread.sleep(backoff);
                    continue;
                }
                long t0 = System.nanoTime();
                Map<String, SafeTensors.Tensor> tensors =
                        WeightsFetcher.fetch(weights, latest, settings.swap().fetchTimeout());
                Duration fetch = Duration.ofNanos(System.nanoTime() - t0);
                long swapNanos =
                        server.batcher().swap(latest.getVersion(), tensors).get(60, TimeUnit.SECONDS);
                metrics.swap(swapNanos, fetch);
                Log.infof(
                        "serving policy v%d (fetched in %d ms, swapped in %.2f ms)",
                        latest.getVersion(), fetch.toMillis(), swapNanos / 1e6);
                return;
            } catch (StatusRuntimeException e) {
                metrics.swapFailed("fetch_" + e.getStatus().getCode().name().toLowerCase());
                Log.warnf(
                        "fetching policy v%d failed (attempt %d): %s", announced.getVersion(), attempt, e.getStatus());
            } catch (WeightsStreamReader.BadWeightsException e) {
                metrics.swapFailed("verification");
                Log.warnf(
                        "policy v%d did not verify (attempt %d): %s", announced.getVersion(), attempt, e.getMessage());
            } catch (ExecutionException | java.util.concurrent.TimeoutException | RuntimeException e) {
                metrics.swapFailed("install");
                Log.warnf("installing policy v%d failed (attempt %d): %s", announced.getVersion(), attempt, e);
            }
            Thread.sleep(backoff);
            backoff = Math.min(2 * backoff, 10_000);
        }
        Log.errorf(
                "policy v%d could not be installed; v%d keeps serving until the next announcement",
                announced.getVersion(), server.version());
    }
}
