package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Tree-structured training must give exactly the loss and gradients of training each trajectory alone. */
class TreeTrainingTest {

    static final ModelConfig CONFIG = ModelConfig.qwen3(97, 32, 48, 2, 4, 2, 8);

    /**
     * As {@link #branchingSamples(long, int)}, with behaviour log-probs set so that each token's ratio
     * to the model is one of a few values clearly inside or outside the clip ranges: a ratio within
     * float error of a clip boundary would make the clipped objective's gradient depend on rounding.
     */
    static List<TrainingSample> branchingSamples(long seed, int count, DecoderModel model) {
        double[] ratios = {0.6, 0.85, 0.97, 1.03, 1.15, 1.5};
        Random r = new Random(seed * 31);
        List<TrainingSample> out = new ArrayList<>();
        for (TrainingSample s : branchingSamples(seed, count)) {
            int n = s.tokens().length;
            float[] current;
            try (NDManager scope = model.manager().newSubManager()) {
                current = model.tokenLogProbs(
                                scope,
                                new int[][] {Arrays.copyOf(s.tokens(), n - 1)},
                                DecoderModel.positions(0, n - 1),
                                DecoderModel.causal(0, n - 1),
                                new int[][] {Arrays.copyOfRange(s.tokens(), 1, n)})
                        .toFloatArray();
            }
            float[] behaviour = new float[n];
            behaviour[0] = Float.NaN;
            for (int t = 1; t < n; t++) {
                behaviour[t] = current[t - 1] - (float) Math.log(ratios[r.nextInt(ratios.length)]);
            }
            out.add(new TrainingSample(s.tokens(), s.trainable(), behaviour, s.advantage()));
        }
        return out;
    }

    /** Random trajectories that branch off each other at random points (tree rollouts, repeated turns). */
    static List<TrainingSample> branchingSamples(long seed, int count) {
        Random r = new Random(seed);
        List<int[]> seqs = new ArrayList<>();
        seqs.add(randomTokens(r, 12 + r.nextInt(8)));
        while (seqs.size() < count) {
            int[] parent = seqs.get(r.nextInt(seqs.size()));
            int branch = 2 + r.nextInt(parent.length - 2);
            int[] suffix = randomTokens(r, 3 + r.nextInt(8));
            int[] child = Arrays.copyOf(parent, branch + suffix.length);
            System.arraycopy(suffix, 0, child, branch, suffix.length);
            seqs.add(child);
        }
        List<TrainingSample> samples = new ArrayList<>();
        for (int[] s : seqs) {
            boolean[] trainable = new boolean[s.length];
            float[] behaviour = new float[s.length];
            for (int t = 0; t < s.length; t++) {
                trainable[t] = t >= 3 && r.nextDouble() < 0.8;
                behaviour[t] = (float) (-4.6 + r.nextGaussian() * 0.3); // around log(1/97): some ratios clip
            }
            samples.add(new TrainingSample(s, trainable, behaviour, r.nextGaussian()));
        }
        return samples;
    }

    static int[] randomTokens(Random r, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 3 + r.nextInt(94);
        }
        return t;
    }

    @Test
    void treeGradientsEqualFlatGradientsForEveryObjective() {
        List<Objective> objectives = List.of(
                Objective.sft(),
                Objective.dapo(),
                new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.2, 0.05, LossAggregation.SEQUENCE_MEAN),
                new Objective(Objective.Kind.POLICY_GRADIENT, 0.1, 0.3, 0, LossAggregation.CONSTANT));
        try (DecoderModel model = DecoderModel.random(CONFIG, 17, Device.cpu());
                DecoderModel reference = DecoderModel.random(CONFIG, 18, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            for (long seed = 1; seed <= 3; seed++) {
                List<TrainingSample> samples = branchingSamples(seed, 6, model);
                TreeBatch tree = TreeBatch.of(samples);
                assertTrue(tree.size() < tree.flatTokens(), "the branches share tokens: " + tree);
                for (Objective objective : objectives) {
                    double[][] weights = objective.aggregation().weights(samples);
                    float[] flatLoss = new float[1];
                    Map<String, float[]> flat = gradients(
                            model,
                            scope -> {
                                NDArray total = null;
                                for (int s = 0; s < samples.size(); s++) {
                                    NDArray l = PolicyLoss.compute(
                                                    scope,
                                                    model,
                                                    TreeBatch.flat(samples.get(s), s),
                                                    samples,
                                                    weights,
                                                    objective,
                                                    reference)
                                            .loss();
                                    total = total == null ? l : total.add(l);
                                }
                                return total;
                            },
                            flatLoss);
                    float[] treeLoss = new float[1];
                    Map<String, float[]> treeGrads = gradients(
                            model,
                            scope -> {
                                return PolicyLoss.compute(scope, model, tree, samples, weights, objective, reference)
                                        .loss();
                            },
                            treeLoss);
                    assertEquals(
                            flatLoss[0], treeLoss[0], 1e-5 * Math.max(1, Math.abs(flatLoss[0])), "loss, " + objective);
                    double worst = 0;
                    String worstName = "";
                    double global = largestEntry(flat);
                    for (String name : flat.keySet()) {
                        double rel = relativeError(flat.get(name), treeGrads.get(name), global);
                        if (rel > worst) {
                            worst = rel;
                            worstName = name;
                        }
                    }
                    assertTrue(
                            worst < 1e-5,
                            objective + " seed " + seed + ": max relative gradient error " + worst + " in " + worstName
                                    + " (largest entry of the model's gradient: " + global + ")");
                }
            }
        }
    }

    @Test
    void aTreeComputedInCheckpointedPiecesHasThePlainTreesLossAndGradients() {
        List<Objective> objectives = List.of(
                Objective.sft(),
                new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.2, 0.05, LossAggregation.SEQUENCE_MEAN));
        try (DecoderModel model = DecoderModel.random(CONFIG, 17, Device.cpu());
                DecoderModel reference = DecoderModel.random(CONFIG, 18, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            for (long seed = 1; seed <= 2; seed++) {
                List<TrainingSample> samples = branchingSamples(seed, 6, model);
                TreeBatch tree = TreeBatch.of(samples);
                long pieces = (long) CONFIG.numHeads() * tree.size() * 7; // query chunks of 7 rows
                assertTrue(CheckpointedForward.needed(model, tree, pieces), "the budget forces pieces: " + tree);
                for (Objective objective : objectives) {
                    double[][] weights = objective.aggregation().weights(samples);
                    float[] plainLoss = new float[1];
                    Map<String, float[]> plain = gradientsOf(
                            model,
                            scope -> PolicyLoss.compute(scope, model, tree, samples, weights, objective, reference),
                            plainLoss);
                    float[] piecesLoss = new float[1];
                    Map<String, float[]> inPieces = gradientsOf(
                            model,
                            scope -> PolicyLoss.compute(
                                    scope, model, tree, samples, weights, objective, reference, pieces),
                            piecesLoss);
                    assertEquals(plainLoss[0], piecesLoss[0], 1e-5 * Math.max(1, Math.abs(plainLoss[0])), "loss");
                    double global = largestEntry(plain);
                    for (String name : plain.keySet()) {
                        double rel = relativeError(plain.get(name), inPieces.get(name), global);
                        assertTrue(
                                rel < 1e-5,
                                objective + " seed " + seed + ": relative gradient error " + rel + " in " + name);
                    }
                }
            }
        }
    }

    /**
     * The LM head in chunks of 3 rows (a real vocabulary's logits never held at once) gives the plain head's loss and
     * gradients, for SFT and for a clipped policy gradient with a KL penalty and a temperature, alone and together with
     * a checkpointed forward (the head's backward runs between the loss's and the pieces').
     */
    @Test
    void aHeadComputedInChunksHasThePlainHeadsLossAndGradients() {
        List<Objective> objectives = List.of(
                Objective.sft(),
                new Objective(Objective.Kind.POLICY_GRADIENT, 0.2, 0.2, 0.05, LossAggregation.SEQUENCE_MEAN)
                        .withTemperature(0.7));
        try (DecoderModel model = DecoderModel.random(CONFIG, 21, Device.cpu());
                DecoderModel reference = DecoderModel.random(CONFIG, 22, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            List<TrainingSample> samples = branchingSamples(3, 6, model);
            TreeBatch tree = TreeBatch.of(samples);
            long chunkOf3 = 3L * CONFIG.vocabSize();
            long pieces = (long) CONFIG.numHeads() * tree.size() * 7;
            assertTrue(ChunkedHead.needed(model, tree.size() / 2, chunkOf3), "the budget forces chunks: " + tree);
            for (Objective objective : objectives) {
                double[][] weights = objective.aggregation().weights(samples);
                float[] plainLoss = new float[1];
                Map<String, float[]> plain = gradientsOf(
                        model,
                        scope -> PolicyLoss.compute(scope, model, tree, samples, weights, objective, reference),
                        plainLoss);
                for (long attention : new long[] {PolicyLoss.ATTENTION_ELEMENTS, pieces}) {
                    float[] chunkedLoss = new float[1];
                    Map<String, float[]> chunked = gradientsOf(
                            model,
                            scope -> PolicyLoss.compute(
                                    scope, model, tree, samples, weights, objective, reference, attention, chunkOf3),
                            chunkedLoss);
                    assertEquals(plainLoss[0], chunkedLoss[0], 1e-5 * Math.max(1, Math.abs(plainLoss[0])), "loss");
                    double global = largestEntry(plain);
                    for (String name : plain.keySet()) {
                        double rel = relativeError(plain.get(name), chunked.get(name), global);
                        assertTrue(rel < 1e-5, objective + ": relative gradient error " + rel + " in " + name);
                    }
                }
            }
        }
    }

    /**
     * A chunk's logits and log-softmax are freed with the chunk, in the forward pass and in the backward pass: the step's
     * scope holds no array with a vocabulary-sized axis once the head is done, however many chunks it took. (They once
     * belonged to the step's scope, 5.5 GB at 2 048 rows of Qwen3's vocabulary.)
     */
    @Test
    void aChunkedHeadKeepsNoChunksLogitsInTheStepsScope() {
        try (DecoderModel model = DecoderModel.random(CONFIG, 23, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            List<TrainingSample> samples = branchingSamples(3, 6, model);
            TreeBatch tree = TreeBatch.of(samples);
            Objective sft = Objective.sft();
            try (NDManager scope = model.manager().newSubManager();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                PolicyLoss.Result result = PolicyLoss.compute(
                        scope,
                        model,
                        tree,
                        samples,
                        sft.aggregation().weights(samples),
                        sft,
                        null,
                        PolicyLoss.ATTENTION_ELEMENTS,
                        2L * CONFIG.vocabSize());
                assertTrue(result.head() != null, "the head ran in chunks of 2 rows");
                assertEquals(List.of(), vocabularySized(scope), "after the forward pass");
                result.backward(gc);
                assertEquals(List.of(), vocabularySized(scope), "after the backward pass");
            }
        }
    }

    /**
     * The backward pass through checkpointed pieces leaves no array of the tree's hidden size [1, n, hidden] in the
     * step's scope beyond what the forward pass left there (the layers' inputs). It once kept each layer's input
     * gradient through the handle {@code getGradient} makes: 28 × 8 MB at 2 048 rows of the Qwen3-0.6B shape.
     */
    @Test
    void theBackwardPassThroughPiecesKeepsNoLayersGradientInTheStepsScope() {
        try (DecoderModel model = DecoderModel.random(CONFIG, 24, Device.cpu())) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            List<TrainingSample> samples = branchingSamples(3, 6, model);
            TreeBatch tree = TreeBatch.of(samples);
            Objective sft = Objective.sft();
            long pieces = (long) CONFIG.numHeads() * tree.size() * 7;
            try (NDManager scope = model.manager().newSubManager();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                PolicyLoss.Result result = PolicyLoss.compute(
                        scope, model, tree, samples, sft.aggregation().weights(samples), sft, null, pieces);
                assertTrue(result.pieces() != null, "the budget forces pieces: " + tree);
                long afterForward = hiddenSized(scope, tree.size());
                result.backward(gc);
                assertEquals(
                        afterForward, hiddenSized(scope, tree.size()), "hidden-sized arrays after the backward pass");
            }
        }
    }

    private static long hiddenSized(NDManager scope, long rows) {
        return scope.getManagedArrays().stream()
                .map(NDArray::getShape)
                .filter(s -> s.equals(new Shape(1, rows, CONFIG.hiddenSize())))
                .count();
    }

    private static List<Shape> vocabularySized(NDManager scope) {
        return scope.getManagedArrays().stream()
                .map(NDArray::getShape)
                .filter(s -> s.dimension() > 0 && s.get(s.dimension() - 1) % CONFIG.vocabSize() == 0)
                .toList();
    }

    /** The largest |entry| of a model's gradients. */
    static double largestEntry(Map<String, float[]> gradients) {
        double largest = 0;
        for (float[] g : gradients.values()) {
            for (float x : g) {
                largest = Math.max(largest, Math.abs(x));
            }
        }
        return largest;
    }

    /** As {@link #gradients}, back-propagating a PolicyLoss result (through its pieces, if any). */
    static Map<String, float[]> gradientsOf(
            DecoderModel model, Function<NDManager, PolicyLoss.Result> fn, float[] lossOut) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager scope = model.manager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();
            PolicyLoss.Result result = fn.apply(scope);
            System.gc(); // operands saved for backward must survive a collection (see dev.katmesh.policy.Tensors)
            result.backward(gc);
            lossOut[0] = result.loss().getFloat();
        }
        model.trainableParameters()
                .forEach((name, p) -> out.put(name, p.getGradient().toFloatArray()));
        return out;
    }

    /**
     * max |a - b| / max |a| over one tensor, where the scale is at least 1e-3 of the largest gradient
     * entry of the whole model: a tensor whose gradient cancels to nearly zero (e.g. keys of a random
     * model with opposite advantages) would otherwise compare float32 rounding noise with itself.
     */
    static double relativeError(float[] a, float[] b, double globalScale) {
        double scale = 1e-3 * globalScale;
        double diff = 0;
        for (int i = 0; i < a.length; i++) {
            scale = Math.max(scale, Math.abs(a[i]));
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
        }
        return scale == 0 ? diff : diff / scale;
    }

    interface LossFn {
        NDArray loss(NDManager scope);
    }

    static Map<String, float[]> gradients(DecoderModel model, LossFn fn) {
        return gradients(model, fn, new float[1]);
    }

    /** Runs the loss and its backward pass; returns every parameter's gradient and puts the loss in lossOut[0]. */
    static Map<String, float[]> gradients(DecoderModel model, LossFn fn, float[] lossOut) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager scope = model.manager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();
            NDArray loss = fn.loss(scope);
            System.gc(); // operands saved for backward must survive a collection (see dev.katmesh.policy.Tensors)
            gc.backward(loss);
            lossOut[0] = loss.getFloat();
        }
        model.parameters().forEach((name, p) -> out.put(name, p.getGradient().toFloatArray()));
        return out;
    }
}
