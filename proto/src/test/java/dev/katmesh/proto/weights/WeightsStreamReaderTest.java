package dev.katmesh.proto.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The writer and the reader of the Weights stream against each other, and the reader against damaged streams. */
class WeightsStreamReaderTest {

    static final float[] A = {1f, -2f, 3.5f, 0f, 7f, 8f};
    static final float[] B = {0.25f};

    static ByteBuffer bytes(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(4 * f.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b;
    }

    static PolicyVersion version() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(bytes(A));
            md.update(bytes(B));
            return PolicyVersion.newBuilder()
                    .setVersion(3)
                    .setSha256(HexFormat.of().formatHex(md.digest()))
                    .build();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Tensor "a" [2, 3] in chunks of 8 bytes (3 chunks), then "b" [1] (1 chunk), from chunk {@code start}. */
    static List<WeightsChunk> stream(PolicyVersion v, long start) {
        List<WeightsChunk> out = new ArrayList<>();
        WeightsStreamWriter.write(
                v,
                "{}",
                List.of(
                        new WeightsStreamWriter.Part("a", new long[] {2, 3}, bytes(A)),
                        new WeightsStreamWriter.Part("b", new long[] {1}, bytes(B))),
                8,
                start,
                out::add);
        return out;
    }

    @Test
    void whatTheWriterSendsTheReaderGives() {
        PolicyVersion v = version();
        List<WeightsChunk> s = stream(v, 0);
        assertEquals(6, s.size(), "header, 3 chunks of a, 1 of b, trailer");
        assertEquals(28, s.get(0).getHeader().getTotalBytes());
        assertEquals(v.getSha256(), s.get(5).getTrailer().getSha256());
        List<long[]> shapes = new ArrayList<>();
        Map<String, float[]> got = new LinkedHashMap<>();
        WeightsStreamReader.read(s.iterator(), v, (name, shape, data) -> {
            shapes.add(shape);
            got.put(name, data);
        });
        assertEquals(List.of("a", "b"), List.copyOf(got.keySet()), "stream order");
        assertArrayEquals(new long[] {2, 3}, shapes.get(0));
        assertArrayEquals(A, got.get("a"));
        assertArrayEquals(B, got.get("b"));
    }

    @Test
    void aResumedFetchStartsAtItsChunk() {
        List<WeightsChunk> s = stream(version(), 2);
        assertEquals(2, s.get(1).getTensor().getIndex());
        assertEquals(16, s.get(1).getTensor().getOffset());
        assertEquals(4, s.size(), "header, the last chunk of a, b, trailer");
    }

    @Test
    void anythingOffIsRefusedAndNothingReachesTheSink() {
        PolicyVersion v = version();
        List<WeightsChunk> reordered = new ArrayList<>(stream(v, 0));
        reordered.add(1, reordered.remove(2));
        assertMessage(reordered, v, "arrived where");
        List<WeightsChunk> noTrailer = new ArrayList<>(stream(v, 0));
        noTrailer.remove(noTrailer.size() - 1);
        assertMessage(noTrailer, v, "without its trailer");
        assertMessage(stream(v, 0), v.toBuilder().setSha256("00").build(), "sha256 mismatch");
        assertMessage(
                withChunk(stream(v, 0), 1, c -> {
                    byte[] data = c.getData().toByteArray();
                    data[0] ^= 1;
                    return c.toBuilder().setData(ByteString.copyFrom(data)).build();
                }),
                v,
                "sha256 mismatch");
        assertMessage(withChunk(stream(v, 0), 2, c -> c.toBuilder().setOffset(4).build()), v, "expected 8");
        assertMessage(
                withChunk(stream(v, 0), 4, c -> c.toBuilder().setDtype("BF16").build()), v, "F32 expected");
        assertMessage(
                withChunk(
                        stream(v, 0),
                        4,
                        c -> c.toBuilder()
                                .setData(ByteString.copyFrom(new byte[8]))
                                .build()),
                v,
                "more bytes than its shape");
        List<WeightsChunk> short_ = new ArrayList<>(stream(v, 0));
        short_.remove(3); // a's last chunk, renumbering the rest
        short_.set(
                3,
                WeightsChunk.newBuilder()
                        .setTensor(short_.get(3).getTensor().toBuilder().setIndex(2))
                        .build());
        assertMessage(short_, v, "sha256 mismatch");
        assertMessage(stream(v, 0), v.toBuilder().setVersion(4).build(), "asked for v4");
    }

    static List<WeightsChunk> withChunk(List<WeightsChunk> s, int at, UnaryOperator<TensorChunk> change) {
        List<WeightsChunk> out = new ArrayList<>(s);
        out.set(
                at,
                WeightsChunk.newBuilder()
                        .setTensor(change.apply(s.get(at).getTensor()))
                        .build());
        return out;
    }

    static void assertMessage(List<WeightsChunk> chunks, PolicyVersion v, String expected) {
        Map<String, float[]> sunk = new LinkedHashMap<>();
        WeightsStreamReader.BadWeightsException e = assertThrows(
                WeightsStreamReader.BadWeightsException.class,
                () -> WeightsStreamReader.read(chunks.iterator(), v, (n, s, d) -> sunk.put(n, d)));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(sunk.isEmpty(), "a stream that did not verify gave tensors: " + sunk.keySet());
    }
}
