package dev.katmesh.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw little-endian data. Reads F32, BF16 and F16 (into float)
 * and the integer types of reference files; writes F32.
 */
public final class SafeTensors {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor read into floats (integers are converted exactly up to 2^24). */
    public record Tensor(long[] shape, float[] data, String dtype) {
        public long size() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private SafeTensors() {}

    /** Reads every tensor of a file, in file order. */
    public static Map<String, Tensor> read(Path file) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (Range r : ranges(file, ch)) {
                ByteBuffer data = ByteBuffer.allocate(r.length()).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, r.position());
                data.flip();
                out.put(r.name(), new Tensor(r.shape(), decode(data, r.dtype(), (int) count(r.shape())), r.dtype()));
            }
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * A tensor's place in a file, with its raw little-endian bytes as a read-only view of the mapped file:
     * what the Weights stream sends as it is, with no decoding.
     */
    public record Slot(String name, String dtype, long[] shape, ByteBuffer bytes) {}

    private record Range(String name, String dtype, long[] shape, long position, int length) {}

    /**
     * Every tensor of a file, in file order, its bytes mapped rather than read (checked as {@link #read} checks).
     * Each tensor is mapped on its own, so files of any size map; the views stay valid after this returns.
     */
    public static List<Slot> map(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            List<Slot> out = new ArrayList<>();
            for (Range r : ranges(file, ch)) {
                // A read-only mapping is a read-only buffer already; kept as mapped (not a view of it), so that
                // release() can unmap it.
                ByteBuffer view = ch.map(FileChannel.MapMode.READ_ONLY, r.position(), r.length())
                        .order(ByteOrder.LITTLE_ENDIAN);
                out.add(new Slot(r.name(), r.dtype(), r.shape(), view));
            }
            return out;
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Unmaps a slot of {@link #map} now rather than when the collector finds its buffer: its pages leave the process's
     * resident set at once (a bf16 checkpoint widened to float32 otherwise stays resident twice over, the file's
     * pages beside the copy). The slot must not be read again. Where the JDK offers no way to unmap, nothing happens.
     */
    public static void release(Slot slot) {
        if (UNMAP != null && slot.bytes().isDirect()) {
            try {
                UNMAP.invokeExact(slot.bytes());
            } catch (Throwable e) {
                // A slice or a duplicate cannot be unmapped: it goes with its buffer, as without this call.
            }
        }
    }

    /** sun.misc.Unsafe#invokeCleaner (jdk.unsupported, Java 9+), the JDK's one way to unmap before collection. */
    private static final MethodHandle UNMAP = unmapper();

    private static MethodHandle unmapper() {
        try {
            Class<?> unsafe = Class.forName("sun.misc.Unsafe");
            Field instance = unsafe.getDeclaredField("theUnsafe");
            instance.setAccessible(true);
            return MethodHandles.lookup()
                    .findVirtual(unsafe, "invokeCleaner", MethodType.methodType(void.class, ByteBuffer.class))
                    .bindTo(instance.get(null));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** The header's tensors with their byte ranges, checked against the file's size and the dtypes' widths. */
    private static List<Range> ranges(Path file, FileChannel ch) throws IOException {
        long fileSize = ch.size();
        if (fileSize < 8) {
            throw new CheckpointException(file, "truncated safetensors: " + fileSize + " bytes, no header");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long headerLen = lenBuf.flip().getLong();
        if (headerLen <= 0 || headerLen > fileSize - 8 || headerLen > 100_000_000) {
            throw new CheckpointException(
                    file,
                    "truncated or corrupt safetensors: header length " + headerLen + " in a file of " + fileSize
                            + " bytes");
        }
        ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
        readFully(ch, headerBuf, 8);
        JsonNode header = JSON.readTree(new String(headerBuf.array(), StandardCharsets.UTF_8));
        long dataStart = 8 + headerLen;
        List<Range> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            String dtype = t.path("dtype").asText();
            long[] shape = new long[t.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.path("shape").get(i).asLong();
            }
            long begin = t.path("data_offsets").path(0).asLong();
            long end = t.path("data_offsets").path(1).asLong();
            if (dataStart + end > fileSize) {
                throw new CheckpointException(
                        file,
                        "truncated safetensors: tensor '" + e.getKey() + "' ends at byte " + (dataStart + end)
                                + " but the file has " + fileSize);
            }
            if (end - begin > Integer.MAX_VALUE) {
                throw new CheckpointException(
                        file, "tensor '" + e.getKey() + "' is over 2 GiB (" + (end - begin) + " bytes); shard it");
            }
            if ((end - begin) != count(shape) * width(dtype, file, e.getKey())) {
                throw new CheckpointException(
                        file,
                        "tensor '" + e.getKey() + "' has " + (end - begin) + " bytes for shape "
                                + Arrays.toString(shape) + " of " + dtype);
            }
            out.add(new Range(e.getKey(), dtype, shape, dataStart + begin, (int) (end - begin)));
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static int width(String dtype, Path file, String name) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "BF16", "F16" -> 2;
            case "I64", "F64" -> 8;
            default -> throw new CheckpointException(file, "tensor '" + name + "' has unsupported dtype " + dtype);
        };
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    private static float[] decode(ByteBuffer b, String dtype, int count) {
        float[] out = new float[count];
        for (int i = 0; i < count; i++) {
            out[i] = switch (dtype) {
                case "F32" -> b.getFloat();
                case "BF16" -> Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
                case "F16" -> halfToFloat(b.getShort());
                case "I32" -> b.getInt();
                case "I64" -> b.getLong();
                case "F64" -> (float) b.getDouble();
                default -> throw new IllegalStateException(dtype);
            };
        }
        return out;
    }

    /** IEEE 754 half precision to float (Float.float16ToFloat arrived only in Java 20). */
    static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mant << 13)); // inf or NaN
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign); // signed zero
            }
            float v = mant / 1024f * (float) Math.pow(2, -14); // subnormal
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /**
     * Writes F32 tensors (sorted by name, as transformers does) with optional string metadata; atomically. Returns
     * the SHA-256 (hex) of the data region, hashed while written: every tensor's little-endian bytes in file order,
     * the same bytes in the same order as the Weights stream sends them.
     */
    public static String write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
            throws IOException {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        tensors.forEach((name, t) -> shapes.put(name, t.shape()));
        return write(
                file,
                shapes,
                name -> {
                    float[] data = tensors.get(name).data();
                    ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.asFloatBuffer().put(data);
                    return b;
                },
                metadata);
    }

    /**
     * Writes F32 tensors in name order, each one's little-endian bytes asked of {@code bytes} only when it is
     * written, so that a writer from engine memory holds one tensor at a time and nothing on the Java heap.
     * Written to a temporary file and moved into place: a reader never sees half a file. Returns the SHA-256 of
     * the tensors' bytes (the header excluded), what the Weights stream's receivers check.
     */
    public static String write(
            Path file, Map<String, long[]> shapes, Function<String, ByteBuffer> bytes, Map<String, String> metadata)
            throws IOException {
        Map<String, long[]> sorted = new TreeMap<>(shapes);
        ObjectNode header = JSON.createObjectNode();
        ObjectNode meta = header.putObject("__metadata__");
        meta.put("format", "pt");
        metadata.forEach(meta::put);
        long offset = 0;
        for (Map.Entry<String, long[]> e : sorted.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long d : e.getValue()) {
                shape.add(d);
            }
            long n = 4L * count(e.getValue());
            t.putArray("data_offsets").add(offset).add(offset + n);
            offset += n;
        }
        byte[] headerBytes = JSON.writeValueAsBytes(header);
        int pad = (8 - headerBytes.length % 8) % 8; // data starts 8-byte aligned
        ByteBuffer head = ByteBuffer.allocate(8 + headerBytes.length + pad).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(headerBytes.length + pad).put(headerBytes);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        MessageDigest sha = sha256();
        try (FileChannel out = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeAll(out, head.flip(), null);
            for (Map.Entry<String, long[]> e : sorted.entrySet()) {
                ByteBuffer b = bytes.apply(e.getKey()).duplicate().order(ByteOrder.LITTLE_ENDIAN);
                if (b.remaining() != 4L * count(e.getValue())) {
                    throw new IOException("tensor '" + e.getKey() + "' gave " + b.remaining() + " bytes for shape "
                            + Arrays.toString(e.getValue()));
                }
                writeAll(out, b, sha);
            }
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return HexFormat.of().formatHex(sha.digest());
    }

    private static void writeAll(FileChannel out, ByteBuffer b, MessageDigest sha) throws IOException {
        if (sha != null) {
            sha.update(b.duplicate());
        }
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads metadata strings of a file's header. */
    public static Map<String, String> metadata(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            ByteBuffer headerBuf = ByteBuffer.allocate((int) lenBuf.flip().getLong());
            readFully(ch, headerBuf, 8);
            Map<String, String> meta = new TreeMap<>();
            JSON.readTree(new String(headerBuf.array(), StandardCharsets.UTF_8))
                    .path("__metadata__")
                    .fields()
                    .forEachRemaining(e -> meta.put(e.getKey(), e.getValue().asText()));
            return meta;
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
    }
}
