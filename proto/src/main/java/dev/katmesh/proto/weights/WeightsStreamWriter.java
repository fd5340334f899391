package dev.katmesh.proto.weights;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsHeader;
import dev.katmesh.proto.v1.WeightsTrailer;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;

/**
 * Writes one policy version as a katmesh.v1.Weights stream: a header (the version, its config.json, the tensor
 * count and byte total), the tensors' F32 little-endian bytes in numbered chunks of at most {@code chunkBytes}
 * (the numbering is what a resumed fetch's {@code start_chunk} counts), and a trailer with the version's SHA-256.
 *
 * <p>DESIGN: the bytes are sent as the checkpoint file holds them (a mapped view, copied once into each chunk)
 * and not hashed again here: the SHA-256 was taken while the file was written, and {@link WeightsStreamReader}
 * checks it on the receiving side, where a corrupt file or a damaged stream is caught either way.
 */
public final class WeightsStreamWriter {

    /** One tensor to send: its name, shape and F32 little-endian bytes (read from position to limit). */
    public record Part(String name, long[] shape, ByteBuffer bytes) {}

    private WeightsStreamWriter() {}

    /** Emits the stream of {@code parts}, skipping tensor chunks numbered below {@code startChunk}. */
    public static void write(
            PolicyVersion version,
            String configJson,
            List<Part> parts,
            int chunkBytes,
            long startChunk,
            Consumer<WeightsChunk> out) {
        write(version, configJson, "", parts, chunkBytes, startChunk, out);
    }

    /** As above, for an adapter version with its PEFT adapter_config.json (empty for a full version). */
    public static void write(
            PolicyVersion version,
            String configJson,
            String adapterConfigJson,
            List<Part> parts,
            int chunkBytes,
            long startChunk,
            Consumer<WeightsChunk> out) {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunkBytes must be positive, got " + chunkBytes);
        }
        long total = parts.stream().mapToLong(p -> p.bytes().remaining()).sum();
        out.accept(WeightsChunk.newBuilder()
                .setHeader(WeightsHeader.newBuilder()
                        .setVersion(version)
                        .setConfigJson(configJson)
                        .setAdapterConfigJson(adapterConfigJson)
                        .setTensorCount(parts.size())
                        .setTotalBytes(total))
                .build());
        long index = 0;
        for (Part p : parts) {
            ByteBuffer bytes = p.bytes().duplicate();
            int size = bytes.remaining();
            int begin = bytes.position();
            // An empty tensor still gets one (empty) chunk, so the receiver learns its name and shape.
            for (int off = 0; off < size || (size == 0 && off == 0); off += chunkBytes) {
                if (index >= startChunk) {
                    int len = Math.min(chunkBytes, size - off);
                    TensorChunk.Builder c = TensorChunk.newBuilder()
                            .setIndex(index)
                            .setName(p.name())
                            .setDtype("F32")
                            .setOffset(off)
                            .setData(ByteString.copyFrom(bytes.slice(begin + off, len)));
                    for (long d : p.shape()) {
                        c.addShape(d);
                    }
                    out.accept(WeightsChunk.newBuilder().setTensor(c).build());
                }
                index++;
                if (size == 0) {
                    break;
                }
            }
        }
        out.accept(WeightsChunk.newBuilder()
                .setTrailer(WeightsTrailer.newBuilder().setSha256(version.getSha256()))
                .build());
    }
}
