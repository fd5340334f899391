package dev.katmesh.policy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.katmesh.proto.v1.WeightsHeader;
import dev.katmesh.proto.weights.WeightsStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fetched version's tensors staged in engine memory beside the serving weights, chunk by chunk as the stream
 * delivers them: inference's heap does not grow with its model (a 0.6B model's 2.4 GB would not fit its 768 MB).
 * Each tensor is allocated on the CPU uninitialised, and a chunk's bytes are copied once, straight into its memory
 * through a direct buffer over it (a chunk once went through a scratch buffer, a temporary array and an indexed
 * set: three copies, most of a swap's cost beyond the transfer); on another device the staged tensors move there
 * when {@link #tensors} hands them out. Only tensors the served model has, with its shapes, are accepted (an adapter
 * version's: the adapters its header's adapter_config.json describes on the model's projections), so a bad stream
 * cannot make it allocate more than one model's worth. Closed after the swap (or a failed verification).
 */
public final class StagedWeights implements WeightsStreamReader.Staging, AutoCloseable {

    private final ModelConfig config;
    private Map<String, long[]> expected;
    private LoraSettings adapterSettings; // an adapter version's, from its header
    private final Device device;
    private final NDManager manager;
    private final Map<String, NDArray> flat = new LinkedHashMap<>();
    private final Map<String, ByteBuffer> memory = new LinkedHashMap<>(); // views of flat's CPU memory
    private boolean closed;

    public StagedWeights(DecoderModel model) {
        this.config = model.config();
        this.expected = DecoderModel.parameterShapes(config);
        this.device = model.device();
        this.manager = model.manager().newSubManager(Device.cpu());
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
    public LoraAdapters adapters(NDManager owner) {
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
        if (closed) {
            throw new IllegalStateException("staged weights are closed");
        }
        NDArray a = manager.create(new Shape(elements), DataType.FLOAT32);
        ByteBuffer view = a.toByteBuffer(true);
        if (!view.isDirect() || view.capacity() != elements * 4) {
            a.close();
            throw new IllegalStateException("the engine gave no direct view of a new CPU tensor's memory");
        }
        flat.put(name, a);
        memory.put(name, view);
    }

    @Override
    public void write(String name, long offset, ByteBuffer data) {
        if (closed) {
            throw new IllegalStateException("staged weights are closed");
        }
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new UnsupportedOperationException("staging little-endian floats on a big-endian machine");
        }
        // The reader checked that the chunk lies inside the tensor (offset and length against its shape).
        memory.get(name).duplicate().position(Math.toIntExact(offset * 4)).put(data.duplicate());
    }

    /**
     * The staged tensors in their shapes, on the model's device (views of the flat arrays on the CPU; valid until
     * {@link #close}).
     */
    public Map<String, NDArray> tensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        flat.forEach((name, a) -> {
            NDArray shaped = a.reshape(new Shape(expected.get(name)));
            out.put(name, device.equals(Device.cpu()) ? shaped : shaped.toDevice(device, false));
        });
        return out;
    }

    @Override
    public void close() {
        closed = true;
        memory.clear(); // the views point into memory the manager frees
        manager.close();
    }
}
