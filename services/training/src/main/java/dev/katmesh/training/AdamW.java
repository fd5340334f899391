package dev.katmesh.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter, 2019) with global gradient-norm clipping, on the model's parameters in
 * place. Its state (first and second moments, step) is what checkpoints keep beside the weights.
 */
public final class AdamW {

    /**
     * @param lr          learning rate
     * @param beta1       first-moment decay
     * @param beta2       second-moment decay
     * @param eps         denominator term
     * @param weightDecay decoupled weight decay (not applied to norms and biases)
     * @param maxGradNorm clip the global gradient norm to this (0 = no clipping)
     */
    public record Settings(double lr, double beta1, double beta2, double eps, double weightDecay, double maxGradNorm) {
        public static Settings defaults(double lr) {
            return new Settings(lr, 0.9, 0.999, 1e-8, 0.01, 1.0);
        }
    }

    private final Settings settings;
    private final Map<String, NDArray> params;
    private final Map<String, NDArray> m = new LinkedHashMap<>();
    private final Map<String, NDArray> v = new LinkedHashMap<>();
    private long step;

    public AdamW(Map<String, NDArray> params, Settings settings) {
        this.params = params;
        this.settings = settings;
        params.forEach((name, p) -> {
            m.put(name, p.zerosLike());
            v.put(name, p.zerosLike());
        });
    }

    public long step() {
        return step;
    }

    /** Applies one update from the parameters' gradients; returns the global gradient norm before clipping. */
    public double update(double lrScale) {
        double sq = 0;
        for (NDArray p : params.values()) {
            // In a scope of its own: the squares would otherwise stay attached to the gradients' manager, a
            // model's worth of memory kept per update (2.4 GB a step at 0.6B parameters).
            try (NDManager scope = p.getManager().newSubManager()) {
                NDArray g = scope(scope, p.getGradient());
                sq += scope(scope, scope(scope, g.square()).sum()).getFloat();
            }
        }
        double norm = Math.sqrt(sq);
        double clip = settings.maxGradNorm() > 0 && norm > settings.maxGradNorm()
                ? settings.maxGradNorm() / (norm + 1e-6)
                : 1.0;
        step++;
        double lr = settings.lr() * lrScale;
        double bc1 = 1 - Math.pow(settings.beta1(), step);
        double bc2 = 1 - Math.pow(settings.beta2(), step);
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            String name = e.getKey();
            NDArray p = e.getValue();
            try (NDManager scope = p.getManager().newSubManager()) {
                // In place and on the parameter's device: no host round trip (outside a GradientCollector,
                // so autograd does not record these updates). The clipping factor is folded into the moments'
                // coefficients, and sqrt(v / bc2) is sqrt(v) / sqrt(bc2): four temporaries of the parameter's
                // size, where the textbook order made nine (each new memory to fill, 21 GB a step at 0.6B).
                NDArray g = scope(scope, p.getGradient()); // a handle of the gradient, not a copy
                NDArray mt =
                        m.get(name).muli(settings.beta1()).addi(scope(scope, g.mul((1 - settings.beta1()) * clip)));
                NDArray vt = v.get(name)
                        .muli(settings.beta2())
                        .addi(scope(scope, g.square()).muli((1 - settings.beta2()) * clip * clip));
                NDArray denom = scope(scope, vt.sqrt()).muli(1 / Math.sqrt(bc2)).addi(settings.eps());
                NDArray update = scope(scope, mt.mul(lr / bc1)).divi(denom);
                boolean decays = !(name.endsWith("norm.weight") || name.endsWith(".bias"));
                if (decays && settings.weightDecay() > 0) {
                    p.muli(1 - lr * settings.weightDecay());
                }
                p.subi(update);
            }
        }
        return norm;
    }

    private static NDArray scope(NDManager scope, NDArray a) {
        a.attach(scope);
        return a;
    }

    /** The moments by name ("exp_avg/NAME", "exp_avg_sq/NAME"), for checkpoints. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> s = new LinkedHashMap<>();
        m.forEach((name, a) -> s.put("exp_avg/" + name, a));
        v.forEach((name, a) -> s.put("exp_avg_sq/" + name, a));
        return s;
    }

    /**
     * Restores moments and step from a checkpoint's float32 little-endian bytes by name (mapped from the file:
     * copied into the moments in engine memory, never through the Java heap).
     */
    public void restore(long step, Map<String, ByteBuffer> state) {
        this.step = step;
        m.forEach((name, a) -> copy(a, require(state, "exp_avg/" + name)));
        v.forEach((name, a) -> copy(a, require(state, "exp_avg_sq/" + name)));
    }

    private static void copy(NDArray target, ByteBuffer bytes) {
        try (NDManager scope = target.getManager().newSubManager()) {
            NDArray view =
                    scope.create(bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN), target.getShape(), DataType.FLOAT32);
            target.set(new NDIndex("..."), view);
        }
    }

    private static ByteBuffer require(Map<String, ByteBuffer> state, String name) {
        ByteBuffer f = state.get(name);
        if (f == null) {
            throw new IllegalArgumentException("optimizer state lacks " + name);
        }
        return f;
    }
}
