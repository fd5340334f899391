package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint folder's weights, read from memory-mapped safetensors files (one, or the shards an index names)
 * straight into the engine's memory, one tensor at a time, converted to float32 there. Nothing passes through the
 * Java heap, so a service's heap does not grow with its model, and the peak beyond the weights is one tensor in
 * its stored precision.
 *
 * <p>A malformed checkpoint is refused before any weight is made: a missing tensor, a shape config.json does not
 * give, an unknown dtype, a truncated file, an index naming a missing shard or a tensor its shard lacks.
 */
final class MappedWeights {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Values widened per step (16 MB of float32): the only buffer loading needs besides the weights. */
    private static final int CHUNK = 1 << 22;

    private MappedWeights() {}

    /** The safetensors files of a folder: model.safetensors, else the shards of model.safetensors.index.json. */
    static List<Path> files(Path dir) {
        Path single = dir.resolve(Checkpoints.MODEL_FILE);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        Path index = dir.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(index)) {
            throw new CheckpointException(dir, "missing model.safetensors (or model.safetensors.index.json)");
        }
        JsonNode weightMap;
        try {
            weightMap = JSON.readTree(index.toFile()).path("weight_map");
        } catch (IOException e) {
            throw new CheckpointException(index, "not readable JSON: " + e.getMessage(), e);
        }
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new CheckpointException(index, "no weight_map object");
        }
        List<Path> shards = new ArrayList<>();
        weightMap.fields().forEachRemaining(e -> {
            Path f = dir.resolve(e.getValue().asText());
            if (!shards.contains(f)) {
                shards.add(f);
            }
        });
        for (Path f : shards) {
            if (!Files.isRegularFile(f)) {
                throw new CheckpointException(f, "missing shard named in " + index.getFileName());
            }
        }
        return shards;
    }

    /** Every expected parameter, checked, as float32 arrays of {@code manager}. */
    static Map<String, NDArray> load(Path dir, Map<String, long[]> expected, NDManager manager) {
        return load(dir, files(dir), expected, manager);
    }

    /** As {@link #load(Path, Map, NDManager)} from the given safetensors files of {@code dir}. */
    static Map<String, NDArray> load(Path dir, List<Path> files, Map<String, long[]> expected, NDManager manager) {
        Map<String, SafeTensors.Slot> slots = new LinkedHashMap<>();
        Map<String, Path> fileOf = new LinkedHashMap<>();
        for (Path f : files) {
            for (SafeTensors.Slot slot : SafeTensors.map(f)) {
                slots.put(slot.name(), slot);
                fileOf.put(slot.name(), f);
            }
        }
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            SafeTensors.Slot slot = slots.get(e.getKey());
            if (slot == null) {
                throw new CheckpointException(dir, "missing tensor '" + e.getKey() + "'");
            }
            if (!Arrays.equals(slot.shape(), e.getValue())) {
                throw new CheckpointException(
                        fileOf.get(e.getKey()),
                        "shape mismatch for '" + e.getKey() + "': expected " + Arrays.toString(e.getValue())
                                + " from config.json, found " + Arrays.toString(slot.shape()));
            }
            dataType(slot, fileOf.get(e.getKey()));
        }
        Map<String, NDArray> params = new LinkedHashMap<>();
        ByteBuffer scratch = null;
        for (String name : expected.keySet()) {
            SafeTensors.Slot slot = slots.get(name);
            DataType stored = dataType(slot, fileOf.get(name));
            NDArray weight;
            if (stored == DataType.BFLOAT16) {
                if (scratch == null) {
                    scratch = ByteBuffer.allocateDirect(CHUNK * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                }
                weight = widenBf16(manager, slot, scratch);
            } else {
                try (NDArray view = manager.create(slot.bytes(), new Shape(slot.shape()), stored)) {
                    // A copy the engine owns: the view is of the read-only mapping, which goes when the buffer is
                    // collected. toType(FLOAT32, true) of a float32 view is the view itself (a crash, later).
                    weight = stored == DataType.FLOAT32 ? view.duplicate() : view.toType(DataType.FLOAT32, true);
                }
            }
            weight.setName(name);
            params.put(name, weight);
            SafeTensors.release(slot); // the engine holds its own copy now
        }
        return params;
    }

    /**
     * A bf16 tensor widened to float32 a chunk at a time through one reused off-heap buffer (a bf16 value is the
     * high half of the float32 with the same bits). DJL 0.36's JNI aborts the process when handed a BF16 buffer
     * (std::terminate), so the engine never sees one.
     */
    private static NDArray widenBf16(NDManager manager, SafeTensors.Slot slot, ByteBuffer scratch) {
        long n = 1;
        for (long d : slot.shape()) {
            n *= d;
        }
        ShortBuffer src =
                slot.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
        NDArray flat = manager.zeros(new Shape(n), DataType.FLOAT32);
        for (long from = 0; from < n; from += CHUNK) {
            int len = (int) Math.min(CHUNK, n - from);
            FloatBuffer dst = scratch.clear().asFloatBuffer();
            for (int i = 0; i < len; i++) {
                dst.put(Float.intBitsToFloat((src.get() & 0xFFFF) << 16));
            }
            ByteBuffer chunk =
                    scratch.duplicate().order(ByteOrder.LITTLE_ENDIAN).limit(len * Float.BYTES);
            try (NDArray part = manager.create(chunk, new Shape(len), DataType.FLOAT32)) {
                flat.set(new NDIndex("{}:{}", from, from + len), part);
            }
        }
        NDArray weight = flat.reshape(new Shape(slot.shape()));
        flat.close();
        return weight;
    }

    private static DataType dataType(SafeTensors.Slot slot, Path file) {
        return switch (slot.dtype()) {
            case "F32" -> DataType.FLOAT32;
            case "BF16" -> DataType.BFLOAT16;
            case "F16" -> DataType.FLOAT16;
            default ->
                throw new CheckpointException(
                        file,
                        "tensor '" + slot.name() + "' has dtype " + slot.dtype()
                                + "; weights must be F32, BF16 or F16");
        };
    }
}
