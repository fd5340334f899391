package dev.katmesh.inference;

import dev.katmesh.policy.SafeTensors;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** One version's tensors over the learner's Weights stream, verified ({@link WeightsStreamReader}). */
final class WeightsFetcher {

    private WeightsFetcher() {}

    static Map<String, SafeTensors.Tensor> fetch(
            WeightsGrpc.WeightsBlockingStub stub, PolicyVersion version, Duration timeout) {
        Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
        WeightsStreamReader.read(
                stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                        .fetch(FetchWeightsRequest.newBuilder()
                                .setVersion(version.getVersion())
                                .build()),
                version,
                (name, shape, data) -> out.put(name, new SafeTensors.Tensor(shape, data, "F32")));
        return out;
    }
}
