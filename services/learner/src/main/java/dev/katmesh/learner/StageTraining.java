package dev.katmesh.learner;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.training.TreePruning;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What each stage's steps cost, for comparing stages side by side (the arms of an experiment): steps, their time,
 * the rows tree training computed and the tokens with a loss, and what pruning to the stage's tree budget took away.
 */
final class StageTraining {

    private static final class Totals {
        long steps;
        long stepMs;
        long rows;
        long lossTokens;
        TreePruning.Counts pruned = TreePruning.Counts.NONE;
    }

    private final Map<String, Totals> byStage = new LinkedHashMap<>();

    void step(String stage, long ms, long rows, long lossTokens, TreePruning.Counts pruned) {
        Totals t = byStage.computeIfAbsent(stage, s -> new Totals());
        t.steps++;
        t.stepMs += ms;
        t.rows += rows;
        t.lossTokens += lossTokens;
        t.pruned = t.pruned.plus(pruned);
    }

    void write(ObjectNode out) {
        byStage.forEach((stage, t) -> {
            ObjectNode o = out.putObject(stage);
            o.put("steps", t.steps);
            o.put("step_ms", t.stepMs);
            o.put("tree_rows", t.rows);
            o.put("loss_tokens", t.lossTokens);
            TreePruning.Counts p = t.pruned;
            if (p.treesOverBudget() > 0) {
                ObjectNode q = o.putObject("pruning");
                q.put("trees", p.trees());
                q.put("trees_over_budget", p.treesOverBudget());
                q.put("trees_still_over", p.treesStillOver());
                q.put("rows_before", p.rowsBefore());
                q.put("rows_after", p.rowsAfter());
                q.put("turns_pruned", p.turnsPruned());
                q.put("samples_dropped", p.samplesDropped());
                q.put("samples_cut", p.samplesCut());
                q.put("memory_events_kept", p.memoryEventsKept());
            }
        });
    }
}
