package dev.katmesh.inference;

import dev.katmesh.policy.SafeTensors;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.TensorChunk;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsGrpc;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Reads one policy version from the learner's Weights stream and checks it: chunks in order, every
 * byte inside its tensor, F32 data, and the SHA-256 of all tensor bytes equal to both the stream's
 * trailer and the announced version's. Anything else is a {@link BadWeightsException}; nothing is
 * installed from a stream that did not verify.
 */
final class WeightsFetcher {

    /** A stream that did not verify (retriable: the next fetch may succeed). */
    static final class BadWeightsException extends RuntimeException {
        BadWeightsException(String message) {
            super(message);
        }
    }

    private WeightsFetcher() {}

    static Map<String, SafeTensors.Tensor> fetch(WeightsGrpc.WeightsBlockingStub stub, PolicyVersion version, Duration timeout) {
        Iterator<WeightsChunk> chunks = stub.withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
                .fetch(FetchWeightsRequest.newBuilder().setVersion(version.getVersion()).build());
        MessageDigest md = sha256();
        Map<String, ByteArrayOutputStream> bytes = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        String trailer = null;
        long expectIndex = 0;
        while (chunks.hasNext()) {
            WeightsChunk c = chunks.next();
            if (c.hasHeader()) {
                if (c.getHeader().getVersion().getVersion() != version.getVersion()) {
                    throw new BadWeightsException("asked for v" + version.getVersion() + ", got v" + c.getHeader().getVersion().getVersion());
                }
            } else if (c.hasTensor()) {
                TensorChunk t = c.getTensor();
                if (t.getIndex() != expectIndex++) {
                    throw new BadWeightsException("chunk " + t.getIndex() + " arrived where " + (expectIndex - 1) + " was expected");
                }
                if (!t.getDtype().equals("F32")) {
                    throw new BadWeightsException("tensor " + t.getName() + " has dtype " + t.getDtype() + ", F32 expected");
                }
                ByteArrayOutputStream b = bytes.computeIfAbsent(t.getName(), k -> new ByteArrayOutputStream());
                if (t.getOffset() != b.size()) {
                    throw new BadWeightsException("tensor " + t.getName() + ": chunk at offset " + t.getOffset() + ", expected " + b.size());
                }
                byte[] data = t.getData().toByteArray();
                md.update(data);
                b.writeBytes(data);
                shapes.put(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray());
            } else if (c.hasTrailer()) {
                trailer = c.getTrailer().getSha256();
            }
        }
        String sha = HexFormat.of().formatHex(md.digest());
        if (trailer == null) {
            throw new BadWeightsException("the stream ended without its trailer");
        }
        if (!sha.equals(trailer) || !sha.equals(version.getSha256())) {
            throw new BadWeightsException("sha256 mismatch: data " + sha + ", trailer " + trailer + ", announced " + version.getSha256());
        }
        Map<String, SafeTensors.Tensor> tensors = new LinkedHashMap<>();
        bytes.forEach((name, b) -> {
            long[] shape = shapes.get(name);
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n * 4 != b.size()) {
                throw new BadWeightsException("tensor " + name + " has " + b.size() + " bytes for shape " + java.util.Arrays.toString(shape));
            }
            float[] data = new float[(int) n];
            ByteBuffer.wrap(b.toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
            tensors.put(name, new SafeTensors.Tensor(shape, data, "F32"));
        });
        return tensors;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
