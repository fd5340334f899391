package dev.katmesh.launcher.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
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
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * One training step (SFT loss and backward pass) on a session-shaped tree of n rows — a shared history and two
 * branches, as a captured agent session with a retried last turn — computed in checkpointed pieces beside one plain
 * pass, in one process: step time, the Java heap's and the process's peak memory above their level before the step,
 * and the attention scores one layer of the plain pass holds. A plain pass that cannot fit is reported as failed,
 * which is what the pieces exist for.
 */
public final class LongTreeBenchmark {

    private LongTreeBenchmark() {}

    public static ObjectNode run(Device device, int[] rows, int plainMaxRows, long elements) throws Exception {
        ModelConfig config = PrefillBenchmark.MODEL;
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (DecoderModel model = DecoderModel.random(config, 1, device)) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Measurements.putModel(out, config, device);
            out.put("attention_elements", elements);
            step(model, sessionTree(256), elements); // warm-up
            ArrayNode table = out.putArray("trees");
            for (int n : rows) {
                List<TrainingSample> samples = sessionTree(n);
                ObjectNode row = table.addObject();
                row.put("rows", TreeBatch.of(samples).size());
                row.put(
                        "plain_attention_mb_per_layer",
                        Measurements.round(4.0 * config.numHeads() * n * n / 1048576.0));
                TreeBatch tree = TreeBatch.of(samples);
                row.put("in_pieces", PolicyLoss.inPieces(model, tree, elements));
                row.set("as_trained", measure(model, samples, elements));
                if (n <= plainMaxRows) {
                    row.set("plain", measure(model, samples, Long.MAX_VALUE));
                }
            }
        }
        return out;
    }

    /** A history of 2n/3 tokens and two branches of n/6, the second half of each branch trained. */
    static List<TrainingSample> sessionTree(int n) {
        Random r = new Random(n);
        int shared = 2 * n / 3;
        int branch = (n - shared) / 2;
        int[] history = r.ints(shared, 3, PrefillBenchmark.MODEL.vocabSize()).toArray();
        return List.of(branch(history, branch, r), branch(history, branch, r));
    }

    private static TrainingSample branch(int[] history, int length, Random r) {
        int[] tokens = Arrays.copyOf(history, history.length + length);
        for (int i = history.length; i < tokens.length; i++) {
            tokens[i] = 3 + r.nextInt(PrefillBenchmark.MODEL.vocabSize() - 3);
        }
        boolean[] trainable = new boolean[tokens.length];
        Arrays.fill(trainable, history.length + length / 2, tokens.length, true);
        float[] behaviour = new float[tokens.length];
        Arrays.fill(behaviour, Float.NaN);
        return new TrainingSample(tokens, trainable, behaviour, 0);
    }

    private static ObjectNode measure(DecoderModel model, List<TrainingSample> samples, long elements) {
        ObjectNode r = new ObjectMapper().createObjectNode();
        Measurements.Memory memory = Measurements.Memory.start();
        try {
            r.put("step_s", Measurements.round(step(model, samples, elements)));
            memory.report(r);
        } catch (Exception | OutOfMemoryError e) {
            r.put("failed", String.valueOf(e.getMessage()));
        }
        return r;
    }

    /** Seconds of one loss and backward pass over the samples' tree. */
    static double step(DecoderModel model, List<TrainingSample> samples, long elements) {
        Objective sft = Objective.sft();
        long t0 = System.nanoTime();
        try (NDManager scope = model.manager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            Trainer.zeroGradients(List.of(model));
            PolicyLoss.compute(
                            scope,
                            model,
                            TreeBatch.of(samples),
                            samples,
                            sft.aggregation().weights(samples),
                            sft,
                            null,
                            elements)
                    .backward(gc);
        }
        return (System.nanoTime() - t0) / 1e9;
    }
}
