package dev.katmesh.proto.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsHeader;
import dev.katmesh.proto.v1.WeightsTrailer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class WeightsStreamReaderTest {

    static final float[] A = {1f, -2f, 3.5f, 0f, 7f, 8f};

    /** A stream of tensor "a" [2, 3] in chunks of 8 bytes, as the learner sends it. */
    static List<WeightsChunk> stream(PolicyVersion v) {
        byte[] bytes = ByteBuffer.allocate(4 * A.length)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putFloat(A[0])
                .putFloat(A[1])
                .putFloat(A[2])
                .putFloat(A[3])
                .putFloat(A[4])
                .putFloat(A[5])
                .array();
        List<WeightsChunk> out = new ArrayList<>();
        out.add(WeightsChunk.newBuilder()
                .setHeader(WeightsHeader.newBuilder().setVersion(v))
                .build());
        for (int off = 0, i = 0; off < bytes.length; off += 8, i++) {
            out.add(WeightsChunk.newBuilder()
                    .setTensor(TensorChunk.newBuilder()
                            .setIndex(i)
                            .setName("a")
                            .setDtype("F32")
                            .addShape(2)
                            .addShape(3)
                            .setOffset(off)
                            .setData(ByteString.copyFrom(bytes, off, 8)))
                    .build());
        }
        out.add(WeightsChunk.newBuilder()
                .setTrailer(WeightsTrailer.newBuilder().setSha256(sha(bytes)))
                .build());
        return out;
    }

    static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static PolicyVersion version() {
        List<WeightsChunk> s = stream(PolicyVersion.newBuilder().setVersion(3).build());
        return PolicyVersion.newBuilder()
                .setVersion(3)
                .setSha256(s.get(s.size() - 1).getTrailer().getSha256())
                .build();
    }

    @Test
    void aGoodStreamGivesItsTensors() {
        Map<String, WeightsStreamReader.Tensor> t =
                WeightsStreamReader.read(stream(version()).iterator(), version());
        assertArrayEquals(new long[] {2, 3}, t.get("a").shape());
        assertArrayEquals(A, t.get("a").data());
    }

    @Test
    void anythingOffIsRefused() {
        PolicyVersion v = version();
        List<WeightsChunk> reordered = new ArrayList<>(stream(v));
        reordered.add(1, reordered.remove(2));
        assertMessage(reordered, v, "arrived where");
        List<WeightsChunk> noTrailer = new ArrayList<>(stream(v));
        noTrailer.remove(noTrailer.size() - 1);
        assertMessage(noTrailer, v, "without its trailer");
        assertMessage(stream(v), v.toBuilder().setSha256("00").build(), "sha256 mismatch");
        List<WeightsChunk> flipped = new ArrayList<>(stream(v));
        TensorChunk c = flipped.get(1).getTensor();
        byte[] data = c.getData().toByteArray();
        data[0] ^= 1;
        flipped.set(
                1,
                WeightsChunk.newBuilder()
                        .setTensor(c.toBuilder().setData(ByteString.copyFrom(data)))
                        .build());
        assertMessage(flipped, v, "sha256 mismatch");
        assertMessage(stream(v), v.toBuilder().setVersion(4).build(), "asked for v4");
    }

    static void assertMessage(List<WeightsChunk> chunks, PolicyVersion v, String expected) {
        WeightsStreamReader.BadWeightsException e = assertThrows(
                WeightsStreamReader.BadWeightsException.class, () -> WeightsStreamReader.read(chunks.iterator(), v));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
