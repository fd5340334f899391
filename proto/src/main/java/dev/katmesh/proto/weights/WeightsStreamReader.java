package dev.katmesh.proto.weights;

import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads one policy version from a katmesh.v1.Weights stream and checks it: chunks in order, every
 * byte inside its tensor, F32 data, and the SHA-256 of all tensor bytes equal to both the stream's
 * trailer and the announced version's. Anything else is a {@link BadWeightsException}: nothing may be
 * installed from a stream that did not verify.
 */
public final class WeightsStreamReader {

    /** A tensor as received: its shape and its values. */
    public record Tensor(long[] shape, float[] data) {}

    /** A stream that did not verify (retriable: the next fetch may succeed). */
    public static final class BadWeightsException extends RuntimeException {
        public BadWeightsException(String message) {
            super(message);
        }
    }

    private WeightsStreamReader() {}

    /** The tensors of {@code version}, by name in stream order, once every check passed. */
    public static Map<String, Tensor> read(Iterator<WeightsChunk> chunks, PolicyVersion version) {
        MessageDigest md = sha256();
        Map<String, ByteArrayOutputStream> bytes = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        String trailer = null;
        long expectIndex = 0;
        while (chunks.hasNext()) {
            WeightsChunk c = chunks.next();
            if (c.hasHeader()) {
                if (c.getHeader().getVersion().getVersion() != version.getVersion()) {
                    throw new BadWeightsException("asked for v" + version.getVersion() + ", got v"
                            + c.getHeader().getVersion().getVersion());
                }
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
                ByteArrayOutputStream b = bytes.computeIfAbsent(t.getName(), k -> new ByteArrayOutputStream());
                if (t.getOffset() != b.size()) {
                    throw new BadWeightsException(
                            "tensor " + t.getName() + ": chunk at offset " + t.getOffset() + ", expected " + b.size());
                }
                byte[] data = t.getData().toByteArray();
                md.update(data);
                b.writeBytes(data);
                shapes.put(
                        t.getName(),
                        t.getShapeList().stream().mapToLong(Long::longValue).toArray());
            } else if (c.hasTrailer()) {
                trailer = c.getTrailer().getSha256();
            }
        }
        String sha = HexFormat.of().formatHex(md.digest());
        if (trailer == null) {
            throw new BadWeightsException("the stream ended without its trailer");
        }
        if (!sha.equals(trailer) || !sha.equals(version.getSha256())) {
            throw new BadWeightsException(
                    "sha256 mismatch: data " + sha + ", trailer " + trailer + ", announced " + version.getSha256());
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        bytes.forEach((name, b) -> {
            long[] shape = shapes.get(name);
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n * 4 != b.size()) {
                throw new BadWeightsException(
                        "tensor " + name + " has " + b.size() + " bytes for shape " + Arrays.toString(shape));
            }
            float[] data = new float[(int) n];
            ByteBuffer.wrap(b.toByteArray())
                    .order(ByteOrder.LITTLE_ENDIAN)
                    .asFloatBuffer()
                    .get(data);
            tensors.put(name, new Tensor(shape, data));
        });
        return tensors;
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
