package dev.katmesh.proto.weights;

import com.google.protobuf.ByteString;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsHeader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads one policy version from a katmesh.v1.Weights stream and checks it: chunks in order, every
 * byte inside its tensor, F32 data, and the SHA-256 of all tensor bytes equal to both the stream's
 * trailer and the announced version's. Anything else is a {@link BadWeightsException}: nothing may be
 * installed from a stream that did not verify, so tensors reach the {@link Sink} only after every check.
 *
 * <p>Each chunk goes straight into its tensor's staging place as it arrives: the caller's {@link Staging}
 * (engine memory, on inference, so that a model's weights never pass through the Java heap), or floats for a
 * {@link Sink}. Staged data is the caller's to install only when {@link #read} returns.
 */
public final class WeightsStreamReader {

    /** Where verified tensors go, in stream order: the caller's own tensor form (the model's, on inference). */
    @FunctionalInterface
    public interface Sink {
        void tensor(String name, long[] shape, float[] data);
    }

    /**
     * Where chunks land as they arrive, before the stream verified: staged data must not be installed (served,
     * trained) unless {@link #read} returns normally.
     */
    public interface Staging {
        /** The stream's header, before any tensor: what follows (an adapter version's settings, for one). */
        default void header(WeightsHeader header) {}

        /** The first chunk of a tensor: make room for {@code elements} floats of {@code shape}. */
        void begin(String name, long[] shape, long elements);

        /** Little-endian float32 bytes of {@code name}, starting at float {@code offset}; the buffer is lent. */
        void write(String name, long offset, ByteBuffer littleEndianFloats);
    }

    /** A stream that did not verify (retriable: the next fetch may succeed). */
    public static final class BadWeightsException extends RuntimeException {
        public BadWeightsException(String message) {
            super(message);
        }
    }

    private record Receiving(long[] shape, long elements, long[] filled) {}

    private WeightsStreamReader() {}

    /** Reads {@code version} from {@code chunks} and, once every check passed, gives each tensor to {@code sink}. */
    public static void read(Iterator<WeightsChunk> chunks, PolicyVersion version, Sink sink) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, float[]> floats = new LinkedHashMap<>();
        read(chunks, version, new Staging() {
            @Override
            public void begin(String name, long[] shape, long elements) {
                if (elements > Integer.MAX_VALUE - 8) {
                    throw new BadWeightsException(
                            "tensor " + name + " of shape " + Arrays.toString(shape) + " is too large");
                }
                shapes.put(name, shape);
                floats.put(name, new float[(int) elements]);
            }

            @Override
            public void write(String name, long offset, ByteBuffer data) {
                data.order(ByteOrder.LITTLE_ENDIAN)
                        .asFloatBuffer()
                        .get(floats.get(name), (int) offset, data.remaining() / 4);
            }
        });
        shapes.forEach((name, shape) -> sink.tensor(name, shape, floats.get(name)));
    }

    /** Reads {@code version} from {@code chunks} into {@code staging}; returns only when every check passed. */
    public static void read(Iterator<WeightsChunk> chunks, PolicyVersion version, Staging staging) {
        try (PipelinedDigest md = new PipelinedDigest()) {
            read(chunks, version, staging, md);
        }
    }

    private static void read(
            Iterator<WeightsChunk> chunks, PolicyVersion version, Staging staging, PipelinedDigest md) {
        Map<String, Receiving> tensors = new LinkedHashMap<>();
        String trailer = null;
        long expectIndex = 0;
        while (chunks.hasNext()) {
            WeightsChunk c = chunks.next();
            if (c.hasHeader()) {
                if (c.getHeader().getVersion().getVersion() != version.getVersion()) {
                    throw new BadWeightsException("asked for v" + version.getVersion() + ", got v"
                            + c.getHeader().getVersion().getVersion());
                }
                if (c.getHeader().getVersion().getAdapter() != version.getAdapter()) {
                    throw new BadWeightsException("v" + version.getVersion() + " was announced as "
                            + (version.getAdapter() ? "an adapter version" : "a full version")
                            + ", its stream says otherwise");
                }
                staging.header(c.getHeader());
            } else if (c.hasTensor()) {
                TensorChunk t = c.getTensor();
                if (t.getIndex() != expectIndex) {
                    throw new BadWeightsException(
                            "chunk " + t.getIndex() + " arrived where " + expectIndex + " was expected");
                }
                expectIndex++;
                if (!t.getDtype().equals("F32")) {
                    throw new BadWeightsException(
                            "tensor " + t.getName() + " has dtype " + t.getDtype() + ", F32 expected");
                }
                Receiving r = tensors.get(t.getName());
                if (r == null) {
                    r = receiving(t);
                    tensors.put(t.getName(), r);
                    staging.begin(t.getName(), r.shape(), r.elements());
                }
                ByteString data = t.getData();
                if (t.getOffset() != 4L * r.filled()[0]) {
                    throw new BadWeightsException("tensor " + t.getName() + ": chunk at offset " + t.getOffset()
                            + ", expected " + 4L * r.filled()[0]);
                }
                if (data.size() % 4 != 0 || r.filled()[0] + data.size() / 4 > r.elements()) {
                    throw new BadWeightsException("tensor " + t.getName() + " has more bytes than its shape "
                            + Arrays.toString(r.shape()) + " holds, or a partial float");
                }
                ByteBuffer b = data.asReadOnlyByteBuffer();
                md.update(b.duplicate());
                staging.write(t.getName(), r.filled()[0], b.order(ByteOrder.LITTLE_ENDIAN));
                r.filled()[0] += data.size() / 4;
            } else if (c.hasTrailer()) {
                trailer = c.getTrailer().getSha256();
            }
        }
        String sha = md.hex();
        if (trailer == null) {
            throw new BadWeightsException("the stream ended without its trailer");
        }
        if (!sha.equals(trailer) || !sha.equals(version.getSha256())) {
            throw new BadWeightsException(
                    "sha256 mismatch: data " + sha + ", trailer " + trailer + ", announced " + version.getSha256());
        }
        tensors.forEach((name, r) -> {
            if (r.filled()[0] != r.elements()) {
                throw new BadWeightsException("tensor " + name + " has " + 4L * r.filled()[0] + " bytes for shape "
                        + Arrays.toString(r.shape()));
            }
        });
    }

    /** A tensor's floats, sized by the shape its first chunk names. */
    private static Receiving receiving(TensorChunk first) {
        long[] shape = first.getShapeList().stream().mapToLong(Long::longValue).toArray();
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new BadWeightsException("tensor " + first.getName() + " has shape " + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw new BadWeightsException("tensor " + first.getName() + " has shape " + Arrays.toString(shape));
            }
        }
        return new Receiving(shape, n, new long[1]);
    }
}
