package dev.katmesh.learner;

import dev.katmesh.policy.CheckpointException;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.Weights;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.weights.WeightsStreamWriter;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * katmesh.v1.Weights: a published policy version's tensors in chunks ({@link WeightsStreamWriter}): a header (the
 * version, its config.json and, for an adapter version, its adapter_config.json), the tensor chunks (numbered, so an
 * interrupted fetch resumes from a chunk index; an adapter version's are its adapters'), and a trailer with the
 * SHA-256 taken as the checkpoint was written, which equals the PolicyVersion's. The chunks are the checkpoint
 * file's bytes, mapped: nothing is decoded or hashed again to send them.
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
                        List<WeightsStreamWriter.Part> parts = Checkpoints.mappedWeights(folder).stream()
                                .map(t -> new WeightsStreamWriter.Part(t.name(), t.shape(), t.bytes()))
                                .toList();
                        Path adapterConfig = folder.resolve(LoraSettings.CONFIG_FILE);
                        WeightsStreamWriter.write(
                                version(state),
                                Files.readString(folder.resolve("config.json")),
                                state.adapter() ? Files.readString(adapterConfig) : "",
                                parts,
                                chunkBytes,
                                request.getStartChunk(),
                                emitter::emit);
                        emitter.complete();
                    } catch (IOException | CheckpointException e) {
                        // Pruned since it was resolved, or unreadable: the fetcher retries with the newest version.
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
