package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.Objective;
import dev.katmesh.training.ScoredSamples;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import dev.katmesh.training.TreePruning;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a tree budget saves in training time, on captured session trees: the deployed sessions of an export ({@code
 * ./katmesh export}), each tree one error-masked SFT step of a checkpoint, once per budget, in rounds whose order turns
 * (so no budget always runs first or on a warmer machine). Each budget's time is set against the unpruned one's in the
 * same round: the ratio, not the seconds, is the figure.
 */
public final class TreeBudgetBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TreeBudgetBenchmark() {}

    /** The captured session trees of an export, scored at least {@code minReward}: each tree's samples, in file order. */
    static List<List<TrainingSample>> trees(Path export, double minReward, Set<TrainingSample> openEnds)
            throws IOException {
        Map<String, List<TrainingSample>> byTree = new LinkedHashMap<>();
        for (String line : Files.readAllLines(export, StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            ScoredTrajectory s;
            try {
                s = ScoredJson.read(line.getBytes(StandardCharsets.UTF_8));
            } catch (Exception e) {
                throw new IOException(export + ": a line that is not a scored trajectory: " + e.getMessage(), e);
            }
            String tree = s.getTrajectory().getMetadataMap().get("tree_id");
            if (tree == null || s.getReward() < minReward || s.getTrajectory().getTokenIdsCount() < 2) {
                continue;
            }
            TrainingSample sample = ScoredSamples.of(s, true);
            if (ScoredSamples.openEnd(s.getTrajectory())) {
                openEnds.add(sample);
            }
            byTree.computeIfAbsent(tree, k -> new ArrayList<>()).add(sample);
        }
        return new ArrayList<>(byTree.values());
    }

    public static ObjectNode run(Path export, Path checkpoint, int[] budgets, int rounds, double minReward)
            throws Exception {
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        List<List<TrainingSample>> trees = trees(export, minReward, open);
        if (trees.isEmpty()) {
            throw new IllegalArgumentException(export + " holds no captured session tree scored at least " + minReward);
        }
        ModelConfig config = ModelConfig.read(checkpoint.resolve("config.json"));
        ObjectNode out = JSON.createObjectNode();
        out.put("trees", trees.size());
        out.put("samples", trees.stream().mapToInt(List::size).sum());
        out.put("open_ends", open.size());
        out.put("parameters", config.parameterCount());
        out.put("rounds", rounds);
        double[][] ms = new double[budgets.length][rounds];
        TreePruning.Counts[] counts = new TreePruning.Counts[budgets.length];
        try (DecoderModel model = DecoderModel.load(checkpoint, config, PolicyModel.device("cpu"))) {
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Trainer trainer = new Trainer(
                    model, new AdamW(model.parameters(), AdamW.Settings.defaults(1e-5)), Objective.sft(), null, null);
            step(trainer, trees.get(0)); // warm-up: JIT, the allocator
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < budgets.length; k++) {
                    int b = (k + r) % budgets.length; // each round starts with another budget
                    TreePruning.Counts c = TreePruning.Counts.NONE;
                    long t0 = System.nanoTime();
                    for (List<TrainingSample> tree : trees) {
                        TreePruning.Pruned p = TreePruning.prune(tree, open::contains, budgets[b]);
                        c = c.plus(p.counts());
                        step(trainer, p.samples());
                    }
                    ms[b][r] = (System.nanoTime() - t0) / 1e6;
                    counts[b] = c;
                }
            }
        }
        int base = -1;
        for (int b = 0; b < budgets.length; b++) {
            base = budgets[b] <= 0 ? b : base;
        }
        ArrayNode points = out.putArray("budgets");
        for (int b = 0; b < budgets.length; b++) {
            ObjectNode o = points.addObject();
            o.put("budget", budgets[b]);
            o.put("rows", counts[b].treesOverBudget() > 0 ? counts[b].rowsAfter() : counts[b].rowsBefore());
            o.put("rows_before", counts[b].rowsBefore());
            o.put("trees_over_budget", counts[b].treesOverBudget());
            o.put("trees_still_over", counts[b].treesStillOver());
            o.put("turns_pruned", counts[b].turnsPruned());
            o.put("memory_events_kept", counts[b].memoryEventsKept());
            o.put("median_ms", median(ms[b]));
            if (base >= 0) {
                double[] ratios = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    ratios[r] = ms[b][r] / ms[base][r];
                }
                o.put("time_vs_unpruned_median", Math.round(median(ratios) * 1000) / 1000.0);
                o.put(
                        "time_vs_unpruned_min",
                        Math.round(Arrays.stream(ratios).min().orElse(0) * 1000) / 1000.0);
                o.put(
                        "time_vs_unpruned_max",
                        Math.round(Arrays.stream(ratios).max().orElse(0) * 1000) / 1000.0);
            }
        }
        return out;
    }

    private static void step(Trainer trainer, List<TrainingSample> samples) {
        trainer.step(List.of(samples), List.of(new double[samples.size()]));
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
