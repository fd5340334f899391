package dev.katmesh.launcher.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.training.Objective;
import dev.katmesh.training.PolicyLoss;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import dev.katmesh.training.TreeBatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Tree-structured against flat training, side by side in one run: for groups of B branches sharing a
 * fraction of their tokens, the time of one training step (forward + backward of the clipped policy
 * gradient) over the prefix tree and over each trajectory alone, the ideal ratio (flat tokens / tree
 * tokens) and the largest relative gradient difference.
 */
public final class TreeBenchmark {

    /** About 4.0M parameters: big enough that token count, not per-op overhead, dominates a step. */
    public static final ModelConfig MODEL = ModelConfig.qwen3(4096, 256, 704, 4, 4, 2, 64);

    private TreeBenchmark() {}

    public static ObjectNode run(Device device, int[] branches, double[] shared, int length, int repeats) {
        ObjectNode out = new ObjectMapper().createObjectNode();
        ObjectNode info = out.putObject("model");
        info.put("parameters", MODEL.parameterCount());
        info.put("device", device.toString());
        out.put("trajectory_tokens", length);
        out.put("repeats", repeats);
        ArrayNode cases = out.putArray("cases");
        try (DecoderModel model = DecoderModel.random(MODEL, 1, device)) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Objective objective = Objective.dapo();
            for (int i = 0; i < 3; i++) { // warm-up: JIT, libtorch's allocator
                step(model, group(4, 0.5, length, i), objective, true);
                step(model, group(4, 0.5, length, i), objective, false);
            }
            for (int b : branches) {
                for (double s : shared) {
                    List<TrainingSample> samples = group(b, s, length, b * 100 + (long) (s * 10));
                    TreeBatch tree = TreeBatch.of(samples);
                    double[] treeMs = new double[repeats];
                    double[] flatMs = new double[repeats];
                    Map<String, float[]> treeGrads = null;
                    Map<String, float[]> flatGrads = null;
                    for (int r = 0; r < repeats; r++) {
                        long t0 = System.nanoTime();
                        flatGrads = step(model, samples, objective, false);
                        flatMs[r] = (System.nanoTime() - t0) / 1e6;
                        t0 = System.nanoTime();
                        treeGrads = step(model, samples, objective, true);
                        treeMs[r] = (System.nanoTime() - t0) / 1e6;
                    }
                    double ideal = (double) tree.flatTokens() / tree.size();
                    double speedup = Measurements.median(flatMs) / Measurements.median(treeMs);
                    ObjectNode row = cases.addObject();
                    row.put("branches", b);
                    row.put("shared", s);
                    row.put("flat_tokens", tree.flatTokens());
                    row.put("tree_tokens", tree.size());
                    row.put("ideal", Measurements.round(ideal));
                    row.put("speedup", Measurements.round(speedup));
                    row.put("speedup_over_ideal", Measurements.round(speedup / ideal));
                    row.put("flat_step_ms", Measurements.round(Measurements.median(flatMs)));
                    row.put("tree_step_ms", Measurements.round(Measurements.median(treeMs)));
                    row.put("max_grad_rel_err", maxRelativeError(flatGrads, treeGrads));
                }
            }
        }
        return out;
    }

    /** B trajectories of {@code length} tokens sharing the first {@code shared} of them. */
    static List<TrainingSample> group(int branches, double shared, int length, long seed) {
        Random r = new Random(seed);
        int prefix = (int) Math.round(shared * length);
        int[] common = new int[prefix];
        for (int i = 0; i < prefix; i++) {
            common[i] = 3 + r.nextInt(MODEL.vocabSize() - 3);
        }
        List<TrainingSample> out = new ArrayList<>();
        for (int b = 0; b < branches; b++) {
            int[] ids = Arrays.copyOf(common, length);
            for (int i = prefix; i < length; i++) {
                ids[i] = 3 + r.nextInt(MODEL.vocabSize() - 3);
            }
            boolean[] trainable = new boolean[length];
            float[] behaviour = new float[length];
            for (int i = 0; i < length; i++) {
                trainable[i] = i >= 8; // a short prompt, then generated tokens
                behaviour[i] = Float.NaN;
            }
            out.add(new TrainingSample(ids, trainable, behaviour, r.nextGaussian()));
        }
        return out;
    }

    private static Map<String, float[]> step(
            DecoderModel model, List<TrainingSample> samples, Objective objective, boolean asTree) {
        double[][] weights = objective.aggregation().weights(samples);
        try (NDManager scope = model.manager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            Trainer.zeroGradients(List.of(model));
            NDArray loss;
            if (asTree) {
                loss = PolicyLoss.compute(scope, model, TreeBatch.of(samples), samples, weights, objective, null)
                        .loss();
            } else {
                loss = null;
                for (int s = 0; s < samples.size(); s++) {
                    NDArray l = PolicyLoss.compute(
                                    scope, model, TreeBatch.flat(samples.get(s), s), samples, weights, objective, null)
                            .loss();
                    loss = loss == null ? l : loss.add(l);
                }
            }
            gc.backward(loss);
        }
        Map<String, float[]> grads = new LinkedHashMap<>();
        model.parameters().forEach((name, p) -> grads.put(name, p.getGradient().toFloatArray()));
        return grads;
    }

    /** Largest |flat - tree| / max|flat| over the tensors (scale floored at 1e-3 of the model's largest entry). */
    static double maxRelativeError(Map<String, float[]> flat, Map<String, float[]> tree) {
        double global = 0;
        for (float[] g : flat.values()) {
            for (float x : g) {
                global = Math.max(global, Math.abs(x));
            }
        }
        double worst = 0;
        for (String name : flat.keySet()) {
            float[] a = flat.get(name);
            float[] b = tree.get(name);
            double scale = 1e-3 * global;
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                scale = Math.max(scale, Math.abs(a[i]));
                diff = Math.max(diff, Math.abs(a[i] - b[i]));
            }
            worst = Math.max(worst, scale == 0 ? diff : diff / scale);
        }
        return worst;
    }
}
