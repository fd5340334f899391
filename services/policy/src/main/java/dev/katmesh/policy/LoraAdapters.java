package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Low-rank adapters of a decoder's projections ({@link LoraSettings}): an A [r, in] and a B [out, r] per adapted
 * projection, named as PEFT names them ({@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight}), in
 * engine memory of their own. A decoder with adapters attached computes every adapted projection as
 * x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ; its base weights stay as they are, so training touches only these arrays, a checkpoint or
 * a weight sync carries only them, and one base serves any adapter.
 *
 * <p>Fresh adapters start as PEFT starts them: A ~ U(-1/√in, 1/√in) (Kaiming-uniform with a = √5), B = 0, so the
 * adapted model begins exactly as its base.
 */
public final class LoraAdapters implements AutoCloseable {

    /** Adapters' weights in a PEFT adapter folder. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";

    private static final String PREFIX = "base_model.model.";

    private final LoraSettings settings;
    private final NDManager manager;
    private final Map<String, NDArray> params; // PEFT names, A before B, in the model's projection order
    private final Map<String, NDArray[]> byModule = new LinkedHashMap<>();

    private LoraAdapters(LoraSettings settings, NDManager manager, Map<String, NDArray> params) {
        this.settings = settings;
        this.manager = manager;
        this.params = params;
        for (String module : modules(params)) {
            byModule.put(module, new NDArray[] {params.get(nameA(module)), params.get(nameB(module))});
        }
    }

    /** The names and shapes of the adapters of {@code settings} on a model of {@code config}, A before B. */
    public static Map<String, long[]> shapes(ModelConfig config, LoraSettings settings) {
        Map<String, long[]> out = new LinkedHashMap<>();
        DecoderModel.parameterShapes(config).forEach((name, shape) -> {
            String module = name.substring(0, name.length() - ".weight".length());
            if (name.endsWith(".weight")
                    && settings.targets().contains(module.substring(module.lastIndexOf('.') + 1))) {
                out.put(nameA(module), new long[] {settings.rank(), shape[1]});
                out.put(nameB(module), new long[] {shape[0], settings.rank()});
            }
        });
        return out;
    }

    /** Fresh adapters (B = 0: the model is its base until trained), drawn from {@code seed}. */
    public static LoraAdapters create(ModelConfig config, LoraSettings settings, long seed, NDManager parent) {
        Random rnd = new Random(seed);
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> params = new LinkedHashMap<>();
        shapes(config, settings).forEach((name, shape) -> {
            float[] data = new float[Math.toIntExact(shape[0] * shape[1])];
            if (name.endsWith(".lora_A.weight")) {
                double bound = 1.0 / Math.sqrt(shape[1]);
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) ((2 * rnd.nextDouble() - 1) * bound);
                }
            }
            NDArray a = Tensors.of(manager, data, new Shape(shape));
            a.setName(name);
            params.put(name, a);
        });
        return new LoraAdapters(settings, manager, params);
    }

    /**
     * Loads a PEFT adapter folder (adapter_config.json, adapter_model.safetensors) for a model of {@code config},
     * mapped into engine memory; a missing file, tensor or a shape the config does not give is refused, named.
     */
    public static LoraAdapters load(Path dir, ModelConfig config, NDManager parent) {
        Path settingsFile = dir.resolve(LoraSettings.CONFIG_FILE);
        if (!Files.isRegularFile(settingsFile)) {
            throw new CheckpointException(dir, "missing " + LoraSettings.CONFIG_FILE);
        }
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            throw new CheckpointException(dir, "missing " + WEIGHTS_FILE);
        }
        LoraSettings settings = LoraSettings.read(settingsFile);
        NDManager manager = parent.newSubManager();
        try {
            return new LoraAdapters(
                    settings, manager, MappedWeights.load(dir, List.of(weights), shapes(config, settings), manager));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Adapters from arrays by PEFT name (staged by a weight sync); copied, so the caller may close its own. */
    public static LoraAdapters copyOf(
            ModelConfig config, LoraSettings settings, Map<String, NDArray> arrays, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> params = new LinkedHashMap<>();
        try {
            shapes(config, settings).forEach((name, shape) -> {
                NDArray a = arrays.get(name);
                if (a == null || !a.getShape().equals(new Shape(shape))) {
                    throw new IllegalArgumentException("adapter '" + name + "' is missing or has another shape");
                }
                NDArray copy;
                try (NDArray detached = a.stopGradient()) { // a trained adapter's copy carries no autograd history
                    copy = detached.duplicate();
                }
                copy.attach(manager);
                copy.setName(name);
                params.put(name, copy);
            });
            return new LoraAdapters(settings, manager, params);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    public LoraSettings settings() {
        return settings;
    }

    /** The adapters' arrays by PEFT name: what an optimizer trains and a checkpoint keeps. */
    public Map<String, NDArray> parameters() {
        return params;
    }

    /** Elements of all adapters (r·(in + out) per adapted projection). */
    public long size() {
        return params.values().stream().mapToLong(a -> a.getShape().size()).sum();
    }

    /** y + (α/r)·(x·Aᵀ)·Bᵀ when {@code module} (e.g. model.layers.0.mlp.up_proj) is adapted, else y. */
    NDArray apply(NDManager scope, String module, NDArray x, NDArray y) {
        NDArray[] ab = byModule.get(module);
        if (ab == null) {
            return y;
        }
        NDArray at = ab[0].transpose();
        at.attach(scope);
        NDArray bt = ab[1].transpose();
        bt.attach(scope);
        // A scalar array rather than a Java number: the scalar overloads lose the autograd graph (Tensors).
        return y.add(x.matMul(at).matMul(bt).mul(Tensors.scalar(scope, settings.scale())));
    }

    /** W + sign·(α/r)·B·A for every adapted projection, in place on {@code weights} (by Hugging Face name). */
    void addTo(Map<String, NDArray> weights, float sign) {
        byModule.forEach((module, ab) -> {
            try (NDManager scope = manager.newSubManager()) {
                NDArray delta = ab[1].matMul(ab[0]);
                delta.attach(scope);
                weights.get(module + ".weight").addi(delta.muli(sign * settings.scale()));
            }
        });
    }

    /** Writes a PEFT adapter folder (adapter_config.json, adapter_model.safetensors); returns the tensors' SHA-256. */
    public String save(Path dir, String base) throws IOException {
        Files.createDirectories(dir);
        settings.write(dir, base);
        return Checkpoints.writeArrays(dir.resolve(WEIGHTS_FILE), params, Map.of());
    }

    /** The adapted projections, e.g. model.layers.0.self_attn.q_proj. */
    private static List<String> modules(Map<String, NDArray> params) {
        return params.keySet().stream()
                .filter(n -> n.endsWith(".lora_A.weight"))
                .map(n -> n.substring(PREFIX.length(), n.length() - ".lora_A.weight".length()))
                .toList();
    }

    static String nameA(String module) {
        return PREFIX + module + ".lora_A.weight";
    }

    static String nameB(String module) {
        return PREFIX + module + ".lora_B.weight";
    }

    @Override
    public void close() {
        manager.close();
    }
}
