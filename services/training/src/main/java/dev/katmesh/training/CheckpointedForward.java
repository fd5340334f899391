package dev.katmesh.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.Tensors;

/**
 * The forward and backward pass of a tree too long for its whole attention: layer by layer, the query rows in chunks,
 * keeping only each layer's input and recomputing a layer's chunks in the backward pass (activation checkpointing).
 *
 * <p>DESIGN. A plain forward keeps every layer's attention probabilities for the backward pass: layers × heads × n²
 * floats, 3.4 GB a layer for a 14 500-token agent session even in a 4-head model, and the boolean and float masks
 * of n² on the heap besides. Here memory holds the layers' inputs ([n, hidden] each) and one chunk's attention
 * ([heads, chunk, n]) at a time, and the mask is made on the device from each row's subtree end. Gradients are exact:
 * given the gradient g of the loss with respect to layer l's output, back-propagating Σ_chunks ⟨out_chunk, g_chunk⟩
 * through a recomputation of the layer gives the loss's gradient with respect to the layer's parameters and its
 * input, which is the g of layer l - 1 (the chain rule, one layer at a time). The price is a second forward of each
 * layer. Keys and values are computed once a layer ({@link DecoderModel#keysValues}) and shared by its chunks: in the
 * backward pass as leaves whose gradients the chunks add up, carried to the layer's input in one pass of their own.
 */
final class CheckpointedForward {

    private final DecoderModel model;
    private final NDManager scope;
    private final int[] ids;
    private final NDArray[] rotary;
    private final NDArray ends;
    private final long chunk;
    private final NDArray[] inputs; // inputs[l]: the input of layer l, without a graph
    private final NDArray last; // the last layer's output: a leaf that the loss's backward gives a gradient

    private static final String EMBEDDING = "model.embed_tokens.weight";

    private CheckpointedForward(DecoderModel model, NDManager scope, TreeBatch batch, long chunk) {
        this.model = model;
        this.scope = scope;
        this.ids = batch.ids();
        this.chunk = chunk;
        this.rotary = model.rotary(scope, batch.positions());
        this.ends = Tensors.of(scope, batch.subtreeEnds(), new Shape(ids.length));
        int layers = model.config().numLayers();
        this.inputs = new NDArray[layers];
        NDArray x = detached(model.embed(scope, ids));
        for (int l = 0; l < layers; l++) {
            inputs[l] = x;
            x = layerOutput(l, x);
        }
        this.last = x;
        last.setRequiresGradient(true);
    }

    /**
     * Whether a plain forward of {@code batch} would hold more than {@code attentionElements} attention scores in
     * one layer (heads × rows²), or more than {@link PolicyLoss#ACTIVATION_BYTES} of activations in all.
     */
    static boolean needed(DecoderModel model, TreeBatch batch, long attentionElements) {
        return needed(model.config(), batch.size(), attentionElements);
    }

    static boolean needed(ModelConfig c, long rows, long attentionElements) {
        return (long) c.numHeads() * rows * rows > attentionElements
                || plainActivationBytes(c, rows) > PolicyLoss.ACTIVATION_BYTES;
    }

    /**
     * The activations a plain forward of {@code rows} rows keeps until its backward pass, every layer's. The
     * engine's manager keeps every intermediate of the step, not only what autograd saves; the coefficients are
     * measured: a LoRA step on the Qwen3-0.6B widths (2 layers) grew by 65k floats per row and layer plus 89 per
     * row² and layer (16 heads) between 256 and 700 rows (docs/benchmarks.md), which the terms below reproduce.
     */
    static long plainActivationBytes(ModelConfig c, long rows) {
        long perRow = 16L * c.hiddenSize()
                + 8L * c.intermediateSize()
                + 8L * (c.numHeads() + c.numKvHeads()) * c.headDim()
                + 6L * c.numHeads() * rows;
        return 4L * c.numLayers() * rows * perRow;
    }

    /** Runs the forward pass; arrays belong to {@code scope}. Chunks hold at most {@code attentionElements} scores. */
    static CheckpointedForward of(NDManager scope, DecoderModel model, TreeBatch batch, long attentionElements) {
        long perRow = (long) model.config().numHeads() * batch.size();
        return new CheckpointedForward(model, scope, batch, Math.max(1, attentionElements / perRow));
    }

    /** The final hidden states [1, n, hidden], differentiable back to the last layer's output. */
    NDArray hidden() {
        return model.finalNorm(last);
    }

    /**
     * After the loss's backward pass (which gave the last layer's output its gradient): back-propagates through every
     * layer and the embedding, adding into the parameters' gradients.
     */
    void backward(GradientCollector gc) {
        NDArray g = detachedGradient(last);
        for (int l = inputs.length - 1; l >= 0; l--) {
            NDArray x = inputs[l].duplicate();
            x.attach(scope);
            x.setRequiresGradient(true);
            try (NDManager layer = scope.newSubManager()) {
                // The keys and values once for the layer, as leaves the pieces' backward passes add gradients into;
                // then one backward pass through them to x and the k and v projections (as ChunkedHead does).
                NDArray[] kv = model.keysValues(layer, l, x, rotary);
                NDArray[] leaves = new NDArray[2];
                for (int i = 0; i < 2; i++) {
                    leaves[i] = kv[i].stopGradient();
                    leaves[i].attach(layer);
                    leaves[i].setRequiresGradient(true);
                }
                for (long from = 0; from < ids.length; from += chunk) {
                    long to = Math.min(ids.length, from + chunk);
                    try (NDManager piece = layer.newSubManager()) {
                        NDArray out = model.layerRows(piece, l, x, rotary, ends, from, to, leaves);
                        NDArray gPiece = g.get(new NDIndex(":, {}:{}, :", from, to));
                        gPiece.attach(piece);
                        gc.backward(out.mul(gPiece).sum());
                    }
                }
                gc.backward(kv[0].mul(leaves[0].getGradient())
                        .sum()
                        .add(kv[1].mul(leaves[1].getGradient()).sum()));
            }
            NDArray next = detachedGradient(x);
            g.close();
            x.close();
            g = next;
        }
        if (model.trainableParameters().containsKey(EMBEDDING)) { // frozen under LoRA: nothing to carry g into
            try (NDManager piece = scope.newSubManager()) {
                gc.backward(model.embed(piece, ids).mul(g).sum());
            }
        }
        g.close();
    }

    /** Layer l's output for every row, computed a chunk of query rows at a time and kept without its graph. */
    private NDArray layerOutput(int l, NDArray x) {
        NDList parts = new NDList();
        try (NDManager layer = scope.newSubManager()) {
            NDArray[] kv = model.keysValues(layer, l, x, rotary);
            for (long from = 0; from < ids.length; from += chunk) {
                long to = Math.min(ids.length, from + chunk);
                try (NDManager piece = layer.newSubManager()) {
                    parts.add(detached(model.layerRows(piece, l, x, rotary, ends, from, to, kv)));
                }
            }
        }
        if (parts.size() == 1) {
            return parts.get(0);
        }
        NDArray out = NDArrays.concat(parts, 1);
        out.attach(scope);
        parts.close();
        return out;
    }

    /**
     * {@code a}'s gradient without a graph, owned by the scope. The handle {@code getGradient} makes belongs to
     * {@code a}'s manager, the scope: left open, it kept every layer's input gradient until the step ended.
     */
    private NDArray detachedGradient(NDArray a) {
        try (NDArray gradient = a.getGradient()) {
            return detached(gradient);
        }
    }

    /** A copy of {@code a} without a graph, owned by the scope. */
    private NDArray detached(NDArray a) {
        NDArray d = a.stopGradient();
        d.attach(scope);
        return d;
    }
}
