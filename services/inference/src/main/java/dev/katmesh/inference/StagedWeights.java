package dev.katmesh.inference;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.proto.v1.WeightsHeader;
import dev.katmesh.proto.weights.WeightsStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fetched version's tensors staged in engine memory beside the serving weights, chunk by chunk as the stream
 * delivers them, through one reused off-heap buffer: inference's heap does not grow with its model (a 0.6B model's
 * 2.4 GB would not fit its 768 MB). Only tensors the served model has, with its shapes, are accepted (an adapter
 * version's: the adapters its header's adapter_config.json describes on the model's projections), so a bad stream
 * cannot make it allocate more than one model's worth. Closed after the swap (or a failed verification).
 */
final class StagedWeights implements WeightsStreamReader.Staging, AutoCloseable {

    private static final int SCRATCH_BYTES = 4 << 20;

    private final ModelConfig config;
    private Map<String, long[]> expected;
    private LoraSettings adapterSettings; // an adapter version's, from its header
    private final NDManager manager;
    private final Map<String, NDArray> flat = new LinkedHashMap<>();
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(SCRATCH_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    StagedWeights(DecoderModel model) {
        this.config = model.config();
        this.expected = DecoderModel.parameterShapes(config);
        this.manager = model.manager().newSubManager();
    }

    @Override
    public void header(WeightsHeader header) {
        if (header.getVersion().getAdapter()) {
            try {
                adapterSettings = LoraSettings.parse(header.getAdapterConfigJson());
            } catch (RuntimeException e) {
                throw new WeightsStreamReader.BadWeightsException("adapter version v"
                        + header.getVersion().getVersion() + " has no usable adapter_config.json: " + e.getMessage());
            }
            expected = LoraAdapters.shapes(config, adapterSettings);
        }
    }

    /** The staged adapters, for an adapter version (copied into the model's memory; valid after {@link #close}). */
    LoraAdapters adapters(NDManager owner) {
        if (adapterSettings == null) {
            throw new IllegalStateException("not an adapter version");
        }
        return LoraAdapters.copyOf(config, adapterSettings, tensors(), owner);
    }

    @Override
    public void begin(String name, long[] shape, long elements) {
        long[] want = expected.get(name);
        if (want == null || !Arrays.equals(want, shape)) {
            throw new WeightsStreamReader.BadWeightsException("tensor " + name + " of shape " + Arrays.toString(shape)
                    + " is not a parameter of the served model" + (want == null ? "" : " " + Arrays.toString(want)));
        }
        flat.put(name, manager.zeros(new Shape(elements), DataType.FLOAT32));
    }

    @Override
    public void write(String name, long offset, ByteBuffer data) {
        NDArray target = flat.get(name);
        ByteBuffer src = data.duplicate();
        long at = offset;
        while (src.hasRemaining()) {
            int n = Math.min(src.remaining(), SCRATCH_BYTES) / 4 * 4;
            ByteBuffer slice = src.slice().limit(n);
            scratch.clear().put(slice).flip();
            src.position(src.position() + n);
            try (NDArray part = manager.create(
                    scratch.duplicate().order(ByteOrder.LITTLE_ENDIAN), new Shape(n / 4), DataType.FLOAT32)) {
                target.set(new NDIndex("{}:{}", at, at + n / 4), part);
            }
            at += n / 4;
        }
    }

    /** The staged tensors in their shapes (views of the flat arrays; valid until {@link #close}). */
    Map<String, NDArray> tensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        flat.forEach((name, a) -> out.put(name, a.reshape(new Shape(expected.get(name)))));
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}
