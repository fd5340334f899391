package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import dev.katmesh.proto.weights.WeightsStreamWriter;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A hot swap measured against its floor, side by side in one run: the same tensor bytes copied over a
 * loopback gRPC Weights stream and dropped (raw), against fetching them over the same stream, verifying
 * them (SHA-256, order, shapes) and installing them in a batcher that keeps decoding 16 streams (swap).
 * The install itself happens between two decode steps; its pause is compared with the inter-token time.
 */
public final class SwapBenchmark {

    static final int CHUNK = 1 << 20;

    private SwapBenchmark() {}

    public static ObjectNode run(DecoderModel model, DecoderModel next, int repeats, int streams) throws Exception {
        // The learner's own path: a checkpoint written (and hashed while written), mapped and sent as it is.
        Path dir = Files.createTempDirectory("katmesh-swap-");
        PolicyVersion version = PolicyVersion.newBuilder()
                .setVersion(1)
                .setSha256(Checkpoints.saveModel(next, dir, null))
                .build();
        List<WeightsStreamWriter.Part> parts = Checkpoints.mappedWeights(dir).stream()
                .map(t -> new WeightsStreamWriter.Part(t.name(), t.shape(), t.bytes()))
                .toList();
        long total = parts.stream().mapToLong(p -> p.bytes().remaining()).sum();
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(new WeightsGrpc.WeightsImplBase() {
                    @Override
                    public void fetch(FetchWeightsRequest request, StreamObserver<WeightsChunk> out) {
                        WeightsStreamWriter.write(version, "{}", parts, CHUNK, 0, out::onNext);
                        out.onCompleted();
                    }

                    @Override
                    public void latest(LatestRequest request, StreamObserver<PolicyVersion> out) {
                        out.onNext(version);
                        out.onCompleted();
                    }
                })
                .build()
                .start();
        ManagedChannel channel = NettyChannelBuilder.forAddress(
                        new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort()))
                .usePlaintext()
                .maxInboundMessageSize(64 << 20)
                .build();
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (ContinuousBatcher batcher =
                new ContinuousBatcher(model, 0, new ContinuousBatcher.Limits(streams, 1 << 20, streams))) {
            WeightsGrpc.WeightsBlockingStub stub = WeightsGrpc.newBlockingStub(channel);
            // Decoding goes on during every measurement, as it would in a serving instance.
            List<ContinuousBatcher.Handle> load = new ArrayList<>();
            List<Double> gaps = new CopyOnWriteArrayList<>();
            for (int s = 0; s < streams; s++) {
                long[] last = {0};
                load.add(batcher.submit(
                        new int[] {5 + s, 7, 11},
                        new SamplingParams(model.config().maxPositionEmbeddings() - 8, 1f, 0, 1f, s, Set.of()),
                        0,
                        new ContinuousBatcher.Listener() {
                            @Override
                            public boolean onToken(int token, float logprob, long v) {
                                long now = System.nanoTime();
                                if (last[0] != 0) {
                                    gaps.add((now - last[0]) / 1e6);
                                }
                                last[0] = now;
                                return true;
                            }

                            @Override
                            public void onFinish(ContinuousBatcher.Finish finish, String message) {}
                        }));
            }
            double[] raw = new double[repeats];
            double[] swap = new double[repeats];
            double[] install = new double[repeats];
            rawCopy(stub); // warm-up of both paths
            WeightsStreamReader.read(fetch(stub), version, (n, shape, data) -> {});
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                long copied = rawCopy(stub);
                raw[r] = (System.nanoTime() - t0) / 1e6;
                if (copied != total) {
                    throw new IllegalStateException("raw copy moved " + copied + " of " + total + " bytes");
                }
                t0 = System.nanoTime();
                Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
                WeightsStreamReader.read(
                        fetch(stub),
                        version,
                        (n, shape, data) -> tensors.put(n, new SafeTensors.Tensor(shape, data, "F32")));
                long pause = batcher.swap(2 + r, tensors).get(2, TimeUnit.MINUTES);
                swap[r] = (System.nanoTime() - t0) / 1e6;
                install[r] = pause / 1e6;
            }
            load.forEach(ContinuousBatcher.Handle::cancel);
            double rawMs = Measurements.median(raw);
            double swapMs = Measurements.median(swap);
            double installMs = Measurements.median(install);
            double[] g = gaps.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double gap = ServingBenchmark.percentile(g, 0.5);
            out.put("bytes", total);
            out.put("chunk_bytes", CHUNK);
            out.put("decoding_streams", streams);
            out.put("raw_copy_ms", Measurements.round(rawMs));
            out.put("swap_ms", Measurements.round(swapMs));
            out.put("swap_vs_raw_copy", Measurements.round(swapMs / rawMs));
            out.put("install_pause_ms", Measurements.round(installMs));
            out.put("inter_token_p50_ms", Measurements.round(gap));
            out.put("install_pause_vs_inter_token", Measurements.round(installMs / gap));
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
            Files.deleteIfExists(dir.resolve(Checkpoints.MODEL_FILE));
            Files.deleteIfExists(dir.resolve("config.json"));
            Files.deleteIfExists(dir);
        }
        return out;
    }

    private static Iterator<WeightsChunk> fetch(WeightsGrpc.WeightsBlockingStub stub) {
        return stub.withDeadlineAfter(5, TimeUnit.MINUTES)
                .fetch(FetchWeightsRequest.newBuilder().setVersion(1).build());
    }

    /** The floor: every byte over the same stream, touched and dropped. */
    private static long rawCopy(WeightsGrpc.WeightsBlockingStub stub) {
        long n = 0;
        for (Iterator<WeightsChunk> it = fetch(stub); it.hasNext(); ) {
            WeightsChunk c = it.next();
            if (c.hasTensor()) {
                n += c.getTensor().getData().size();
            }
        }
        return n;
    }
}
