package dev.katmesh.inference;

import ai.djl.ndarray.NDArray;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.StagedWeights;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.grpc.GrpcClient;
import io.smallrye.common.annotation.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * Hot weight swap: a PolicyVersion on katmesh.policy.versions newer than the one served makes this
 * instance fetch that version over the Weights stream (an adapter version: its adapters alone, and its base version's
 * weights only when those are not the ones served), verify it against the announcement (its SHA-256), and
 * install it between two decode steps ({@link PolicyServer#swap}); a version no longer kept (an instance reading
 * old announcements as it starts) is replaced by the newest kept one. A failed fetch keeps the old version
 * serving and is retried with backoff; after the last attempt the next announcement tries again.
 */
@ApplicationScoped
public class WeightSync {

    private static final Logger LOG = Logger.getLogger(WeightSync.class);

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
                    Metadata md = new Metadata();
                    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
                    return learner.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
                })
                .orElse(learner);
    }

    /** The base of an adapter version, as its announcement describes it. */
    private static PolicyVersion baseOf(PolicyVersion adapterVersion) {
        return PolicyVersion.newBuilder()
                .setVersion(adapterVersion.getBaseVersion())
                .setSha256(adapterVersion.getBaseSha256())
                .build();
    }

    @Incoming("policy-versions")
    @Blocking
    public void onVersion(byte[] payload) throws InterruptedException {
        PolicyVersion announced;
        try {
            announced = PolicyVersion.parseFrom(payload);
        } catch (InvalidProtocolBufferException e) {
            metrics.swapFailed("bad_announcement");
            LOG.warnf("ignoring an unreadable record on katmesh.policy.versions: %s", e.getMessage());
            return;
        }
        if (!server.loaded() || announced.getVersion() <= server.version()) {
            return;
        }
        long backoff = settings.swap().backoff().toMillis();
        for (int attempt = 1; attempt <= settings.swap().attempts(); attempt++) {
            try {
                WeightsGrpc.WeightsBlockingStub weights = weights();
                PolicyVersion target = announced;
                long t0 = System.nanoTime();
                long swapNanos;
                Duration fetch;
                DecoderModel decoder = server.model().decoder();
                StagedWeights base = null; // staged only when adapters arrive for weights this instance lacks
                try (StagedWeights staged = new StagedWeights(decoder)) {
                    try {
                        // The version announced, verified against the announcement's own SHA-256.
                        WeightsFetcher.fetch(weights, target, settings.swap().fetchTimeout(), staged);
                    } catch (StatusRuntimeException e) {
                        if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
                            throw e;
                        }
                        // No longer kept (an instance catching up on the versions topic): the newest kept one.
                        target = weights.withDeadlineAfter(10, TimeUnit.SECONDS)
                                .latest(LatestRequest.getDefaultInstance());
                        if (target.getVersion() <= server.version()) {
                            return;
                        }
                        WeightsFetcher.fetch(weights, target, settings.swap().fetchTimeout(), staged);
                    }
                    Map<String, NDArray> full = target.getAdapter() ? null : staged.tensors();
                    long weightsVersion = target.getAdapter() ? target.getBaseVersion() : target.getVersion();
                    if (target.getAdapter() && weightsVersion != server.weightsVersion()) {
                        // Adapters on weights this instance does not have (it started later, or missed the base):
                        // the base first, checked against the SHA-256 the adapter version's announcement gives it.
                        base = new StagedWeights(decoder);
                        WeightsFetcher.fetch(
                                weights, baseOf(target), settings.swap().fetchTimeout(), base);
                        full = base.tensors();
                    }
                    LoraAdapters adapters = target.getAdapter() ? staged.adapters(decoder.manager()) : null;
                    fetch = Duration.ofNanos(System.nanoTime() - t0);
                    try {
                        swapNanos = server.install(target.getVersion(), weightsVersion, full, adapters)
                                .get(60, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        if (adapters != null) {
                            adapters.close(); // refused before anything changed: never attached
                        }
                        throw e;
                    }
                } finally {
                    if (base != null) {
                        base.close();
                    }
                }
                metrics.swap(swapNanos, fetch);
                LOG.infof(
                        "serving policy v%d (fetched in %d ms, swapped in %.2f ms)",
                        target.getVersion(), fetch.toMillis(), swapNanos / 1e6);
                return;
            } catch (StatusRuntimeException e) {
                metrics.swapFailed("fetch_" + e.getStatus().getCode().name().toLowerCase());
                LOG.warnf(
                        "fetching policy v%d failed (attempt %d): %s", announced.getVersion(), attempt, e.getStatus());
            } catch (WeightsStreamReader.BadWeightsException e) {
                metrics.swapFailed("verification");
                LOG.warnf(
                        "policy v%d did not verify (attempt %d): %s", announced.getVersion(), attempt, e.getMessage());
            } catch (ExecutionException | TimeoutException | RuntimeException e) {
                metrics.swapFailed("install");
                LOG.warnf("installing policy v%d failed (attempt %d): %s", announced.getVersion(), attempt, e);
            }
            Thread.sleep(backoff);
            backoff = Math.min(2 * backoff, 10_000);
        }
        LOG.errorf(
                "policy v%d could not be installed; v%d keeps serving until the next announcement",
                announced.getVersion(), server.version());
    }
}
