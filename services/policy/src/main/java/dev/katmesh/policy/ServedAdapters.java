package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * The adapters a served model applies, replaced version by version: attached (every adapted projection computes
 * x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ, two extra products of rank r) or merged into the weights (W + (α/r)·B·A: a plain forward,
 * at the price of a B·A product per projection at each swap and the float rounding of taking the last adapters out
 * again before the next go in). Used on the decode thread only, between two steps.
 */
public final class ServedAdapters {

    private final boolean merge;
    private LoraAdapters current; // attached to the model, or merged into its weights
    private long weightsVersion; // the full version whose weights the model holds

    /**
     * @param merge         fold adapters into the weights rather than apply them in every forward
     * @param weightsVersion the full version loaded at start
     */
    public ServedAdapters(boolean merge, long weightsVersion) {
        this.merge = merge;
        this.weightsVersion = weightsVersion;
    }

    /** The full version whose weights the model holds (an adapter version's base, or the version itself). */
    public long weightsVersion() {
        return weightsVersion;
    }

    /**
     * Makes {@code model} compute a version: {@code weights} (by name, staged in engine memory; null: the weights it
     * has, which must be those of {@code weightsVersion}) with {@code adapters} on them (null: none). Takes ownership
     * of the adapters.
     */
    public void install(DecoderModel model, long weightsVersion, Map<String, NDArray> weights, LoraAdapters adapters) {
        if (weights == null && weightsVersion != this.weightsVersion) {
            throw new IllegalArgumentException("adapters on version " + weightsVersion + " cannot go on the weights of "
                    + this.weightsVersion + " without those weights");
        }
        if (weights != null) {
            model.copyWeights(weights); // checks every tensor before it changes one: a refusal leaves all as it was
            this.weightsVersion = weightsVersion;
        } else if (current != null && merge) {
            model.unmerge(current);
        }
        if (current != null) { // overwritten or taken out above
            model.attachAdapters(null);
            current.close();
            current = null;
        }
        if (adapters != null) {
            model.attachAdapters(adapters);
            if (merge) {
                model.mergeAdapters();
            }
            current = adapters;
        }
    }
}
