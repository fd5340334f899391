package dev.katmesh.learner;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.Weights;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsHeader;
import dev.katmesh.proto.v1.WeightsTrailer;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * katmesh.v1.Weights: a published policy version's tensors in chunks — a header (the version and its
 * config.json), the tensor chunks (numbered, so an interrupted fetch resumes from a chunk index), and a
 * trailer with the SHA-256 of all chunk data, which equals the PolicyVersion's sha256.
 */
@GrpcService
public class WeightsEndpoint implements Weights {

    static final int MAX_CHUNK = 4 << 20;

    @Inject
    TrainingLoop loop;

    @Inject
    LearnerSettings settings;

    @Override
    public Uni<PolicyVersion> latest(LatestRequest request) {
        return Uni.createFrom()
                .item(() -> loop.published()
                        .map(s -> version(s))
                        .orElseThrow(() -> Status.FAILED_PRECONDITION
                                .withDescription(
                                        loop.trainingEnabled()
                                                ? "no policy version yet"
                                                : "the learner has no model (katmesh.learner.model-dir)")
                                .asRuntimeException()));
    }

    @Override
    public Multi<WeightsChunk> fetch(FetchWeightsRequest request) {
        return Multi.createFrom()
                .<WeightsChunk>emitter(emitter -> {
                    try {
                        CheckpointStore.State state = resolve(request.getVersion());
                        Path folder = loop.store().folder(state.version());
                        int chunkBytes = request.getMaxChunkBytes() == 0
                                ? settings.weightsChunkBytes()
                                : Math.min(request.getMaxChunkBytes(), MAX_CHUNK);
                        if (chunkBytes < 1024) {
                            throw Status.INVALID_ARGUMENT
                                    .withDescription("max_chunk_bytes must be at least 1024, got " + chunkBytes)
                                    .asRuntimeException();
                        }
                        List<WeightsReader.Tensor> tensors = WeightsReader.tensors(folder);
                        long total = tensors.stream()
                                .mapToLong(t -> t.bytes().length)
                                .sum();
                        emitter.emit(WeightsChunk.newBuilder()
                                .setHeader(WeightsHeader.newBuilder()
                                        .setVersion(version(state))
                                        .setConfigJson(Files.readString(folder.resolve("config.json")))
                                        .setTensorCount(tensors.size())
                                        .setTotalBytes(total))
                                .build());
                        MessageDigest md = CheckpointStore.sha256();
                        long index = 0;
                        for (WeightsReader.Tensor t : tensors) {
                            byte[] bytes = t.bytes();
                            md.update(bytes);
                            List<Long> shape = new ArrayList<>();
                            for (long d : t.shape()) {
                                shape.add(d);
                            }
                            for (int off = 0;
                                    off < bytes.length || (bytes.length == 0 && off == 0);
                                    off += chunkBytes) {
                                int len = Math.min(chunkBytes, bytes.length - off);
                                if (index >= request.getStartChunk()) {
                                    emitter.emit(WeightsChunk.newBuilder()
                                            .setTensor(TensorChunk.newBuilder()
                                                    .setIndex(index)
                                                    .setName(t.name())
                                                    .setDtype("F32")
                                                    .addAllShape(shape)
                                                    .setOffset(off)
                                                    .setData(ByteString.copyFrom(bytes, off, len)))
                                            .build());
                                }
                                index++;
                                if (bytes.length == 0) {
                                    break;
                                }
                            }
                        }
                        String sha = HexFormat.of().formatHex(md.digest());
                        if (!sha.equals(state.sha256())) {
                            throw Status.DATA_LOSS
                                    .withDescription(
                                            "checkpoint v" + state.version() + " does not match its recorded sha256")
                                    .asRuntimeException();
                        }
                        emitter.emit(WeightsChunk.newBuilder()
                                .setTrailer(WeightsTrailer.newBuilder().setSha256(sha))
                                .build());
                        emitter.complete();
                    } catch (IOException e) {
                        emitter.fail(Status.UNAVAILABLE
                                .withDescription("cannot read the checkpoint: " + e.getMessage())
                                .asRuntimeException());
                    } catch (RuntimeException e) {
                        emitter.fail(e);
                    }
                })
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }

    private CheckpointStore.State resolve(long version) throws IOException {
        if (!loop.trainingEnabled()) {
            throw Status.FAILED_PRECONDITION
                    .withDescription("the learner has no model (katmesh.learner.model-dir)")
                    .asRuntimeException();
        }
        if (version == 0) {
            return loop.published()
                    .orElseThrow(() -> Status.UNAVAILABLE
                            .withDescription("no policy version yet")
                            .asRuntimeException());
        }
        return loop.store()
                .state(version)
                .orElseThrow(() -> Status.NOT_FOUND
                        .withDescription("policy version " + version + " is not kept (the learner keeps the last "
                                + settings.keepCheckpoints() + ")")
                        .asRuntimeException());
    }

    private PolicyVersion version(CheckpointStore.State s) {
        return loop.store().policyVersion(s, Map.of());
    }
}
