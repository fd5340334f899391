package dev.katmesh.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * The LM head and log-softmax of many rows at a real vocabulary, without ever holding their [rows × vocab] logits:
 * rows go through the head in chunks, in the forward pass without a graph, and again with one in the backward pass.
 *
 * <p>DESIGN. A plain head keeps logits and log-softmax of every row for the backward pass: 2 × rows × vocab floats,
 * 10 GB for 8 192 rows of Qwen3's 151 936-token vocabulary, before their gradients. Here the log-probs are a leaf
 * that the loss back-propagates into; then each chunk's log-probs are recomputed from a graph-free copy of its
 * hidden rows and back-propagated with that leaf's gradient (Σ ⟨log-probs_chunk, g_chunk⟩), which adds the exact
 * gradients into the head's weights and the copy's rows; finally ⟨rows, their gradient⟩ carries them into the
 * model below. Memory holds one chunk's logits at a time; the price is a second pass through the head.
 */
final class ChunkedHead {

    private final DecoderModel model;
    private final NDManager scope;
    private final NDArray rows; // [u, hidden], with the graph back into the model
    private final NDArray leafRows; // the same rows without a graph, gathering the head's gradient
    private final int[] rowOf; // each occurrence's row in rows
    private final int[] targets;
    private final float temperature;
    private final int chunk;
    private final NDArray logProbs; // [occurrences], a leaf the loss back-propagates into

    private ChunkedHead(
            NDManager scope,
            DecoderModel model,
            NDArray rows,
            int[] rowOf,
            int[] targets,
            float temperature,
            int chunk) {
        this.model = model;
        this.scope = scope;
        this.rows = rows;
        this.rowOf = rowOf;
        this.targets = targets;
        this.temperature = temperature;
        this.chunk = chunk;
        this.leafRows = rows.stopGradient();
        leafRows.attach(scope);
        float[] values = new float[rowOf.length];
        long u = rows.getShape().get(0);
        for (long from = 0; from < u; from += chunk) {
            try (NDManager piece = scope.newSubManager()) {
                List<Integer> members = members(from, Math.min(u, from + chunk));
                float[] lp = chunkLogProbs(piece, leafRows, from, Math.min(u, from + chunk), members)
                        .toFloatArray();
                for (int i = 0; i < members.size(); i++) {
                    values[members.get(i)] = lp[i];
                }
            }
        }
        this.logProbs = Tensors.of(scope, values, new Shape(rowOf.length));
        logProbs.setRequiresGradient(true);
        leafRows.setRequiresGradient(true);
    }

    /** Whether a plain head over {@code rows} rows would hold more than {@code logitElements} logits. */
    static boolean needed(DecoderModel model, long rows, long logitElements) {
        return rows * model.config().vocabSize() > logitElements;
    }

    /**
     * log π(targets[i] | rows[rowOf[i]]) for every occurrence i, computed {@code logitElements / vocab} rows at a
     * time; the result is a leaf: after the loss's backward pass, {@link #backward} carries its gradient on.
     */
    static ChunkedHead of(
            NDManager scope,
            DecoderModel model,
            NDArray rows,
            int[] rowOf,
            int[] targets,
            float temperature,
            long logitElements) {
        int chunk = (int) Math.max(1, logitElements / model.config().vocabSize());
        return new ChunkedHead(scope, model, rows, rowOf, targets, temperature, chunk);
    }

    NDArray logProbs() {
        return logProbs;
    }

    /** After the loss's backward pass: the head's gradients, then the rows' gradient into the model below. */
    void backward(GradientCollector gc) {
        float[] g;
        try (NDArray gradient = logProbs.getGradient()) {
            g = gradient.toFloatArray();
        }
        long u = rows.getShape().get(0);
        for (long from = 0; from < u; from += chunk) {
            long to = Math.min(u, from + chunk);
            List<Integer> members = members(from, to);
            if (members.isEmpty()) {
                continue;
            }
            try (NDManager piece = scope.newSubManager()) {
                float[] gChunk = new float[members.size()];
                for (int i = 0; i < gChunk.length; i++) {
                    gChunk[i] = g[members.get(i)];
                }
                NDArray lp = chunkLogProbs(piece, leafRows, from, to, members);
                gc.backward(lp.mul(Tensors.of(piece, gChunk, new Shape(gChunk.length)))
                        .sum());
            }
        }
        try (NDManager piece = scope.newSubManager()) {
            NDArray gradient = leafRows.getGradient(); // a handle in the scope: attached to the piece to be closed
            gradient.attach(piece);
            NDArray rowGradient = gradient.stopGradient();
            gc.backward(rows.mul(rowGradient).sum());
        }
    }

    /** The occurrences whose row is in [from, to), in occurrence order. */
    private List<Integer> members(long from, long to) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < rowOf.length; i++) {
            if (rowOf[i] >= from && rowOf[i] < to) {
                out.add(i);
            }
        }
        return out;
    }

    /** The log-probs of {@code members}' targets from rows [from, to) of {@code source}. */
    private NDArray chunkLogProbs(NDManager piece, NDArray source, long from, long to, List<Integer> members) {
        // The slice is attached to the piece: an op's result belongs to its first operand's manager, so with the
        // slice in the step's scope every chunk's logits and log-softmax (2 × rows × vocab floats) stayed until the
        // step ended, 5.5 GB at 2 048 rows of Qwen3's vocabulary.
        NDArray chunkRows = source.get("{}:{}", from, to);
        chunkRows.attach(piece);
        NDArray logits = model.logits(piece, chunkRows);
        if (temperature != 1f) {
            // A scalar array, not a Java number: the scalar overloads lose the autograd graph (docs/algorithms.md).
            logits = logits.div(Tensors.scalar(piece, temperature));
        }
        int vocab = model.config().vocabSize();
        long[] flat = new long[members.size()];
        for (int i = 0; i < flat.length; i++) {
            int o = members.get(i);
            flat[i] = (rowOf[o] - from) * vocab + targets[o];
        }
        return logits.logSoftmax(-1)
                .reshape((to - from) * vocab)
                .gather(Tensors.of(piece, flat, new Shape(flat.length)), 0);
    }
}
