package dev.katmesh.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Tensors;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The loss of a {@link TreeBatch}: one forward over the serialised tree (or a chain), the log-prob of
 * every occurrence's target at its row, then the objective per occurrence, weighted and summed.
 *
 * <pre>
 *   SFT:  ℓ = -w · log π(y)
 *   PG:   r = exp(log π(y) - log μ(y)),  ℓ = -w · min(r·A, clip(r, 1-ε_low, 1+ε_high)·A)
 *   KL:   ℓ += w · β · (exp(log π_ref - log π) - (log π_ref - log π) - 1)        (k3 estimator)
 * </pre>
 *
 * When the behaviour log-prob μ is unknown the step is taken as on-policy (μ = π without gradient,
 * r = 1). With an {@link OffPolicyCorrection} the ratio's anchor is the learner's own π_old instead of μ,
 * r = exp(log π(y) - log π_old(y)), and each token's PG term is multiplied by the correction's weight.
 */
public final class PolicyLoss {

    /**
     * Attention scores one layer of a plain forward may hold (heads × rows²): 8M floats, 32 MB. A longer tree is
     * computed in pieces ({@link CheckpointedForward}) of at most this many scores. Measured (`./katmesh bench
     * long-tree`, docs/benchmarks.md): pieces of 8M beat one plain pass from 2 048 rows on (1.9× at 2 048, 4.7× at
     * 8 192, with 4–110× less memory), and beat pieces of 64M (3×: a piece's tensors small enough for the allocator
     * to reuse) and of 1–2M (per-piece overhead).
     */
    public static final long ATTENTION_ELEMENTS = 8L << 20;

    /**
     * Activations a plain forward may keep for its backward pass, all layers together: 1 GB. More, and the tree is
     * computed in checkpointed pieces as a long one is, keeping only each layer's input. At the Qwen3-0.6B shape a
     * plain forward keeps about 7 MB a row (28 layers), so a 512-token step held 8 GB beside 2.4 GB of weights;
     * in pieces it holds the layers' inputs (112 KB a row) and one layer's recomputation. The price is a second
     * forward of each layer. Small models train their usual sequences plain, as before.
     */
    public static final long ACTIVATION_BYTES = 1L << 30;

    /**
     * Logits the LM head may hold at once (rows × vocabulary): 16M floats, 64 MB, about 110 rows of Qwen3's 151 936
     * tokens. More rows go through the head in chunks ({@link ChunkedHead}), with the same gradients.
     */
    public static final long LOGIT_ELEMENTS = 16L << 20;

    /**
     * The scalar loss and the statistics a step reports; {@link #backward} back-propagates it (through the pieces of a
     * checkpointed forward, when the tree needed one).
     */
    public record Result(
            NDArray loss,
            int tokens,
            double clippedFraction,
            double meanRatio,
            ChunkedHead head,
            CheckpointedForward pieces,
            PolicyMismatch mismatch,
            float[] logProbs) {

        /** Adds the loss's gradients into the parameters': through the head's chunks, then the model's pieces. */
        public void backward(GradientCollector gc) {
            gc.backward(loss);
            if (head != null) {
                head.backward(gc);
            }
            if (pieces != null) {
                pieces.backward(gc);
            }
        }
    }

    private PolicyLoss() {}

    /** Whether {@link #compute} runs {@code batch} in pieces under a budget of {@code attentionElements}. */
    public static boolean inPieces(DecoderModel model, TreeBatch batch, long attentionElements) {
        return CheckpointedForward.needed(model, batch, attentionElements);
    }

    public static Result compute(
            NDManager scope,
            DecoderModel model,
            TreeBatch batch,
            List<TrainingSample> samples,
            double[][] weights,
            Objective objective,
            DecoderModel reference) {
        return compute(scope, model, batch, samples, weights, objective, reference, ATTENTION_ELEMENTS);
    }

    /** As above, with a tree longer than {@code attentionElements} allow (heads × rows²) computed in pieces. */
    public static Result compute(
            NDManager scope,
            DecoderModel model,
            TreeBatch batch,
            List<TrainingSample> samples,
            double[][] weights,
            Objective objective,
            DecoderModel reference,
            long attentionElements) {
        return compute(scope, model, batch, samples, weights, objective, reference, attentionElements, LOGIT_ELEMENTS);
    }

    /** As above, with more than {@code logitElements} logits (rows × vocabulary) computed in chunks. */
    public static Result compute(
            NDManager scope,
            DecoderModel model,
            TreeBatch batch,
            List<TrainingSample> samples,
            double[][] weights,
            Objective objective,
            DecoderModel reference,
            long attentionElements,
            long logitElements) {
        return compute(
                scope, model, batch, samples, weights, objective, reference, attentionElements, logitElements, null);
    }

    /**
     * As above, with π_old given: {@code proximal[s][t]} is log π_old of sample s's token t (from an earlier update on
     * the same batch, {@link Result#logProbs}); null takes this forward's own log-probs (the step's first update).
     */
    public static Result compute(
            NDManager scope,
            DecoderModel model,
            TreeBatch batch,
            List<TrainingSample> samples,
            double[][] weights,
            Objective objective,
            DecoderModel reference,
            long attentionElements,
            long logitElements,
            float[][] proximal) {
        List<TreeBatch.Occurrence> occ = batch.occurrences();
        int k = occ.size();
        if (k == 0) {
            return new Result(scope.zeros(new Shape()), 0, 0, 1, null, null, PolicyMismatch.EMPTY, new float[0]);
        }
        long[] rows = new long[k];
        int[][] targets = new int[1][k];
        float[] w = new float[k];
        float[] adv = new float[k];
        float[] old = new float[k];
        int[] sampleOf = new int[k];
        boolean anyUnknownOld = false;
        for (int i = 0; i < k; i++) {
            TreeBatch.Occurrence o = occ.get(i);
            rows[i] = o.row();
            targets[0][i] = o.target();
            w[i] = (float) weights[o.sample()][o.tokenIndex()];
            TrainingSample s = samples.get(o.sample());
            adv[i] = (float) s.advantage();
            old[i] = s.behaviourLogprobs()[o.tokenIndex()];
            sampleOf[i] = o.sample();
            anyUnknownOld |= Float.isNaN(old[i]);
        }
        float temperature = objective.kind() == Objective.Kind.POLICY_GRADIENT ? (float) objective.temperature() : 1f;
        CheckpointedForward pieces = CheckpointedForward.needed(model, batch, attentionElements)
                ? CheckpointedForward.of(scope, model, batch, attentionElements)
                : null;
        Head head = occurrenceLogProbs(
                scope, model, hidden(scope, model, batch, pieces), batch, rows, targets, temperature, logitElements);
        NDArray logp = head.logProbs();
        float[] logpValues = logp.toFloatArray();
        NDArray weight = Tensors.of(scope, w, new Shape(k));
        NDArray perToken;
        double clipped = 0;
        double meanRatio = 1;
        PolicyMismatch mismatch = PolicyMismatch.EMPTY;
        if (objective.kind() == Objective.Kind.SFT) {
            perToken = logp.neg();
        } else {
            OffPolicyCorrection correction = objective.correction();
            float[] learner = logpValues;
            if (proximal != null) {
                learner = new float[k];
                for (int i = 0; i < k; i++) {
                    learner[i] = proximal[occ.get(i).sample()][occ.get(i).tokenIndex()];
                }
            }
            OffPolicyCorrection.Weights corrected = correction.weigh(learner, old, sampleOf, samples.size());
            mismatch = corrected.mismatch();
            NDArray anchor;
            if (correction.decoupled()) {
                anchor = Tensors.of(scope, learner, new Shape(k));
            } else {
                anchor = Tensors.of(scope, old, new Shape(k));
                if (anyUnknownOld) {
                    anchor = NDArrays.where(anchor.isNaN(), logp.stopGradient(), anchor);
                }
            }
            NDArray ratio = logp.sub(anchor).exp();
            NDArray a = Tensors.of(scope, adv, new Shape(k));
            NDArray unclippedObj = ratio.mul(a);
            NDArray clippedObj =
                    ratio.clip(1 - objective.epsLow(), 1 + objective.epsHigh()).mul(a);
            perToken = unclippedObj.minimum(clippedObj).neg();
            if (correction.decoupled()) {
                perToken = perToken.mul(Tensors.of(scope, corrected.weights(), new Shape(k)));
            }
            float[] r = ratio.toFloatArray();
            double sum = 0;
            int n = 0;
            for (int i = 0; i < k; i++) {
                sum += r[i];
                if (r[i] < 1 - objective.epsLow() || r[i] > 1 + objective.epsHigh()) {
                    n++;
                }
            }
            clipped = (double) n / k;
            meanRatio = sum / k;
        }
        if (objective.klBeta() > 0 && reference != null) {
            CheckpointedForward refPieces = CheckpointedForward.needed(reference, batch, attentionElements)
                    ? CheckpointedForward.of(scope, reference, batch, attentionElements)
                    : null;
            NDArray refLogp = occurrenceLogProbs(
                            scope,
                            reference,
                            hidden(scope, reference, batch, refPieces),
                            batch,
                            rows,
                            targets,
                            temperature,
                            logitElements)
                    .logProbs()
                    .stopGradient();
            NDArray diff = refLogp.sub(logp);
            perToken = perToken.add(diff.exp().sub(diff).sub(1).mul(Tensors.scalar(scope, (float) objective.klBeta())));
        }
        return new Result(
                perToken.mul(weight).sum(), k, clipped, meanRatio, head.chunked(), pieces, mismatch, logpValues);
    }

    /** The final hidden states of the tree [1, rows, hidden]: one plain forward, or the pieces' last. */
    private static NDArray hidden(NDManager scope, DecoderModel model, TreeBatch batch, CheckpointedForward pieces) {
        return pieces != null
                ? pieces.hidden()
                : model.hidden(
                        scope,
                        new int[][] {batch.ids()},
                        new int[][] {batch.positions()},
                        new boolean[][][] {batch.attention()},
                        null);
    }

    /** The occurrences' log-probs, and the chunked head that made them when the rows were too many for one pass. */
    record Head(NDArray logProbs, ChunkedHead chunked) {}

    /**
     * log π(target) at each occurrence's row: one forward over the tree, then the LM head and the
     * log-softmax once per distinct row (a branch point is one row with several targets), and a
     * gather of each occurrence's target from its row; in chunks when the rows' logits would exceed
     * {@code logitElements}.
     */
    static Head occurrenceLogProbs(
            NDManager scope,
            DecoderModel model,
            NDArray hidden,
            TreeBatch batch,
            long[] rows,
            int[][] targets,
            float temperature,
            long logitElements) {
        int h = (int) hidden.getShape().get(2);
        int vocab = model.config().vocabSize();
        Map<Long, Integer> distinct = new LinkedHashMap<>();
        for (long r : rows) {
            distinct.putIfAbsent(r, distinct.size());
        }
        long[] rowIndex = new long[distinct.size() * h];
        int u = 0;
        for (long r : distinct.keySet()) {
            Arrays.fill(rowIndex, u * h, (u + 1) * h, r);
            u++;
        }
        NDArray picked =
                hidden.reshape(batch.size(), h).gather(Tensors.of(scope, rowIndex, new Shape(distinct.size(), h)), 0);
        if (ChunkedHead.needed(model, distinct.size(), logitElements)) {
            int[] rowOf = new int[rows.length];
            for (int i = 0; i < rows.length; i++) {
                rowOf[i] = distinct.get(rows[i]);
            }
            ChunkedHead chunked = ChunkedHead.of(scope, model, picked, rowOf, targets[0], temperature, logitElements);
            return new Head(chunked.logProbs(), chunked);
        }
        NDArray logits = model.logits(scope, picked);
        if (temperature != 1f) {
            // Divide by a scalar array, not a Java number: the scalar overloads lose the autograd graph
            // (docs/algorithms.md).
            logits = logits.div(Tensors.scalar(scope, temperature));
        }
        NDArray logSoftmax = logits.logSoftmax(-1).reshape((long) distinct.size() * vocab);
        long[] flatIndex = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            flatIndex[i] = (long) distinct.get(rows[i]) * vocab + targets[0][i];
        }
        return new Head(logSoftmax.gather(Tensors.of(scope, flatIndex, new Shape(rows.length)), 0), null);
    }
}
