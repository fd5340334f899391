package dev.katmesh.inference;

import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** One version's tensors over the learner's Weights stream, verified ({@link WeightsStreamReader}). */
final class WeightsFetcher {

    private WeightsFetcher() {}

    /** Stages {@code version} into {@code staging}; returns only when the stream verified. */
    static void fetch(
            WeightsGrpc.WeightsBlockingStub stub,
            PolicyVersion version,
            Duration timeout,
            WeightsStreamReader.Staging staging) {
        WeightsStreamReader.read(
                stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                        .fetch(FetchWeightsRequest.newBuilder()
                                .setVersion(version.getVersion())
                                .build()),
                version,
                staging);
    }
}
