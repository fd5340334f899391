package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.weights.WeightsStreamReader;
import dev.katmesh.proto.weights.WeightsStreamWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StagedWeightsTest {

    @TempDir
    Path tmp;

    @Test
    void aStreamStagedChunkByChunkHoldsEveryTensorBitExactAndServesAsTheSourceModel() throws IOException {
        try (DecoderModel source = DecoderModel.random(DecoderModelTest.QWEN3, 7, Device.cpu());
                DecoderModel served = DecoderModel.random(DecoderModelTest.QWEN3, 8, Device.cpu())) {
            // 1 000-byte chunks: tensors split at offsets that are not powers of two, and a tensor smaller than one.
            Stream stream = stream(source, 1000);
            try (StagedWeights staged = new StagedWeights(served)) {
                WeightsStreamReader.read(stream.chunks().iterator(), stream.version(), staged);
                Map<String, NDArray> tensors = staged.tensors();
                assertEquals(source.parameters().keySet(), tensors.keySet(), "every parameter, none more");
                source.parameters().forEach((name, p) -> {
                    assertEquals(p.getShape(), tensors.get(name).getShape(), name + "'s shape");
                    assertArrayEquals(p.toFloatArray(), tensors.get(name).toFloatArray(), name + " is bit-exact");
                });
                served.copyWeights(tensors);
            }
            int[] prompt = {3, 14, 15, 9, 26};
            assertArrayEquals(
                    DecoderModelTest.full(source, prompt),
                    DecoderModelTest.full(served, prompt),
                    0f,
                    "the swapped model computes as its source");
        }
    }

    @Test
    void aTensorTheServedModelLacksIsRefusedBeforeAnythingIsAllocatedForIt() throws IOException {
        ModelConfig wider = ModelConfig.qwen3(97, 40, 48, 2, 4, 2, 8);
        try (DecoderModel other = DecoderModel.random(wider, 7, Device.cpu());
                DecoderModel served = DecoderModel.random(DecoderModelTest.QWEN3, 8, Device.cpu());
                StagedWeights staged = new StagedWeights(served)) {
            Stream stream = stream(other, 4096);
            WeightsStreamReader.BadWeightsException e = assertThrows(
                    WeightsStreamReader.BadWeightsException.class,
                    () -> WeightsStreamReader.read(stream.chunks().iterator(), stream.version(), staged));
            assertTrue(e.getMessage().contains("is not a parameter of the served model"), e.getMessage());
            assertThrows(
                    IllegalStateException.class,
                    () -> {
                        staged.close();
                        staged.begin("model.norm.weight", new long[] {32}, 32);
                    },
                    "closed staging takes nothing");
        }
    }

    private record Stream(List<WeightsChunk> chunks, PolicyVersion version) {}

    /** The learner's path: a checkpoint written (hashed as written), mapped and streamed in chunks. */
    private Stream stream(DecoderModel model, int chunkBytes) throws IOException {
        Path dir = tmp.resolve("v" + System.identityHashCode(model));
        PolicyVersion version = PolicyVersion.newBuilder()
                .setVersion(1)
                .setSha256(Checkpoints.saveModel(model, dir, null))
                .build();
        List<WeightsStreamWriter.Part> parts = Checkpoints.mappedWeights(dir).stream()
                .map(t -> new WeightsStreamWriter.Part(t.name(), t.shape(), t.bytes()))
                .toList();
        List<WeightsChunk> out = new ArrayList<>();
        WeightsStreamWriter.write(version, "{}", parts, chunkBytes, 0, out::add);
        return new Stream(out, version);
    }
}
