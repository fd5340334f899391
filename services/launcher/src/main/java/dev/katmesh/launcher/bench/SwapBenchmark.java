package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.policy.StagedWeights;
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
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A hot swap measured against its floor, side by side in one run: the same tensor bytes copied over a
 * loopback gRPC Weights stream and dropped (raw), against inference's own path over the same stream: fetched,
 * verified (SHA-256, order, shapes), staged in engine memory ({@link StagedWeights}) and installed in a batcher
 * (swap); first idle, then while the batcher keeps decoding 16 streams. The install itself happens between two
 * decode steps; its pause is compared with the inter-token time.
 */
public final class SwapBenchmark {

    static final int CHUNK = 1 << 20;

    /** The client's HTTP/2 window, as inference's Weights client sets it (its flow-control-window setting). */
    static final int FLOW_CONTROL_WINDOW = 8 << 20;

    /** gRPC's default window (one chunk in flight) beside the one inference sets (eight). */
    private static final int[] WINDOWS = {1 << 20, FLOW_CONTROL_WINDOW};

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
        List<ManagedChannel> channels = new ArrayList<>();
        for (int window : WINDOWS) {
            channels.add(NettyChannelBuilder.forAddress(
                            new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort()))
                    .usePlaintext()
                    .maxInboundMessageSize(64 << 20)
                    .flowControlWindow(window)
                    .build());
        }
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (ContinuousBatcher batcher =
                new ContinuousBatcher(model, 0, new ContinuousBatcher.Limits(streams, 1 << 20, streams))) {
            out.put("bytes", total);
            out.put("chunk_bytes", CHUNK);
            // The verification's own floor in the same process: SHA-256 of the same bytes, nothing else.
            double[] hash = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                parts.forEach(p -> md.update(p.bytes().duplicate()));
                md.digest();
                hash[r] = (System.nanoTime() - t0) / 1e6;
            }
            out.put("sha256_ms", Measurements.round(Measurements.median(hash)));
            long v = 1;
            for (ManagedChannel c : channels) { // warm-up of every path
                rawCopy(WeightsGrpc.newBlockingStub(c), total);
                swap(WeightsGrpc.newBlockingStub(c), version, model, batcher, v++);
            }
            ArrayNode idle = out.putArray("idle");
            for (int w = 0; w < WINDOWS.length; w++) {
                WeightsGrpc.WeightsBlockingStub stub = WeightsGrpc.newBlockingStub(channels.get(w));
                idle.add(measure(stub, version, total, model, batcher, repeats, v, null)
                        .put("flow_control_window_bytes", WINDOWS[w]));
                v += repeats;
            }
            // Then while the batcher keeps decoding, as it would in a serving instance.
            List<ContinuousBatcher.Handle> load = new ArrayList<>();
            List<Double> gaps = new CopyOnWriteArrayList<>();
            for (int s = 0; s < streams; s++) {
                load.add(decode(batcher, model, s, gaps));
            }
            ArrayNode decoding = out.putArray("decoding");
            for (int w = 0; w < WINDOWS.length; w++) {
                WeightsGrpc.WeightsBlockingStub stub = WeightsGrpc.newBlockingStub(channels.get(w));
                gaps.clear();
                decoding.add(measure(stub, version, total, model, batcher, repeats, v, gaps)
                        .put("flow_control_window_bytes", WINDOWS[w])
                        .put("streams", streams));
                v += repeats;
            }
            load.forEach(ContinuousBatcher.Handle::cancel);
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
            server.shutdownNow();
            Files.deleteIfExists(dir.resolve(Checkpoints.MODEL_FILE));
            Files.deleteIfExists(dir.resolve("config.json"));
            Files.deleteIfExists(dir);
        }
        return out;
    }

    /**
     * Raw copies, verified fetches and swaps in turn (which goes first rotates too, so none gains from another's
     * warm caches); medians, the swap's ratio to the raw copy, and the install's pause against the inter-token time
     * of {@code gaps}' streams.
     */
    private static ObjectNode measure(
            WeightsGrpc.WeightsBlockingStub stub,
            PolicyVersion version,
            long total,
            DecoderModel model,
            ContinuousBatcher batcher,
            int repeats,
            long firstVersion,
            List<Double> gaps)
            throws Exception {
        double[] raw = new double[repeats];
        double[] verified = new double[repeats];
        double[] swap = new double[repeats];
        double[] install = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            for (int leg = 0; leg < 3; leg++) {
                long t0 = System.nanoTime();
                switch ((leg + r) % 3) {
                    case 0 -> {
                        rawCopy(stub, total);
                        raw[r] = (System.nanoTime() - t0) / 1e6;
                    }
                    case 1 -> {
                        WeightsStreamReader.read(fetch(stub), version, new Unstaged());
                        verified[r] = (System.nanoTime() - t0) / 1e6;
                    }
                    default -> {
                        install[r] = swap(stub, version, model, batcher, firstVersion + r) / 1e6;
                        swap[r] = (System.nanoTime() - t0) / 1e6;
                    }
                }
            }
        }
        ObjectNode out = new ObjectMapper().createObjectNode();
        double rawMs = Measurements.median(raw);
        double swapMs = Measurements.median(swap);
        double installMs = Measurements.median(install);
        out.put("raw_copy_ms", Measurements.round(rawMs));
        out.put("verified_ms", Measurements.round(Measurements.median(verified)));
        out.put("swap_ms", Measurements.round(swapMs));
        out.put("swap_vs_raw_copy", Measurements.round(swapMs / rawMs));
        out.put("install_pause_ms", Measurements.round(installMs));
        if (gaps != null) {
            double gap = ServingBenchmark.percentile(
                    gaps.stream().mapToDouble(Double::doubleValue).sorted().toArray(), 0.5);
            out.put("inter_token_p50_ms", Measurements.round(gap));
            out.put("install_pause_vs_inter_token", Measurements.round(installMs / gap));
        }
        return out;
    }

    /** Inference's own path: fetched, verified and staged in engine memory, then installed between decode steps. */
    private static long swap(
            WeightsGrpc.WeightsBlockingStub stub,
            PolicyVersion version,
            DecoderModel model,
            ContinuousBatcher batcher,
            long newVersion)
            throws Exception {
        try (StagedWeights staged = new StagedWeights(model)) {
            WeightsStreamReader.read(fetch(stub), version, staged);
            return batcher.swapStaged(newVersion, staged.tensors()).get(2, TimeUnit.MINUTES);
        }
    }

    /** One stream decoding until cancelled, its inter-token times into {@code gaps}. */
    private static ContinuousBatcher.Handle decode(
            ContinuousBatcher batcher, DecoderModel model, int s, List<Double> gaps) {
        long[] last = {0};
        return batcher.submit(
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
                });
    }

    /** Fetched and verified, the bytes dropped: where a swap's time goes, between the raw copy and the swap. */
    private static final class Unstaged implements WeightsStreamReader.Staging {
        @Override
        public void begin(String name, long[] shape, long elements) {}

        @Override
        public void write(String name, long offset, ByteBuffer littleEndianFloats) {}
    }

    private static Iterator<WeightsChunk> fetch(WeightsGrpc.WeightsBlockingStub stub) {
        return stub.withDeadlineAfter(5, TimeUnit.MINUTES)
                .fetch(FetchWeightsRequest.newBuilder().setVersion(1).build());
    }

    /** The floor: every byte over the same stream, touched and dropped. */
    private static void rawCopy(WeightsGrpc.WeightsBlockingStub stub, long total) {
        long n = 0;
        for (Iterator<WeightsChunk> it = fetch(stub); it.hasNext(); ) {
            WeightsChunk c = it.next();
            if (c.hasTensor()) {
                n += c.getTensor().getData().size();
            }
        }
        if (n != total) {
            throw new IllegalStateException("raw copy moved " + n + " of " + total + " bytes");
        }
    }
}
