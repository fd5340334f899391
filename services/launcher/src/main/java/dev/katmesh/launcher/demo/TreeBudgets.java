package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.tasks.PassRate;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The tree-budget comparison of {@code demo --tree-budgets}: each replay of adaptation's sessions (one per budget, all
 * from RFT's last version) with what its steps cost (time, tree rows computed, tokens with a loss), what pruning took,
 * and its final version's pass rates, each set against the unpruned replay (a ratio of costs; a difference of pass
 * rates with Newcombe's interval).
 */
final class TreeBudgets {

    private static final ObjectMapper JSON = new ObjectMapper();

    private TreeBudgets() {}

    /** Per replay stage, in curriculum order; empty when the run compared none. */
    static ObjectNode summary(JsonNode versions, JsonNode trainingByStage) {
        Map<String, DemoReport.Point> last = new LinkedHashMap<>();
        for (JsonNode v : versions) {
            String stage = v.path("stage").asText();
            if (DemoPlan.isTreeBudgetStage(stage) && v.path("heldout_pass_rate").isNumber()) {
                last.put(stage, DemoReport.point(v));
            }
        }
        ObjectNode out = JSON.createObjectNode();
        String none = DemoPlan.treeBudgetStage(0);
        JsonNode base = trainingByStage.path(none);
        DemoReport.Point basePoint = last.get(none);
        trainingByStage.fields().forEachRemaining(e -> {
            if (!DemoPlan.isTreeBudgetStage(e.getKey())) {
                return;
            }
            JsonNode t = e.getValue();
            ObjectNode o = out.putObject(e.getKey());
            o.put("steps", t.path("steps").asLong());
            o.put("step_s", t.path("step_ms").asLong() / 1000.0);
            o.put("tree_rows", t.path("tree_rows").asLong());
            o.put("loss_tokens", t.path("loss_tokens").asLong());
            if (t.has("pruning")) {
                o.set("pruning", t.path("pruning"));
            }
            if (base.path("step_ms").asLong() > 0) {
                o.put("time_vs_unpruned", ratio(t.path("step_ms"), base.path("step_ms")));
                o.put("rows_vs_unpruned", ratio(t.path("tree_rows"), base.path("tree_rows")));
            }
            DemoReport.Point p = last.get(e.getKey());
            if (p != null) {
                o.put("version", p.version());
                rate(o, "validation", p.validation());
                rate(o, "heldout", p.heldout());
                if (basePoint != null && !e.getKey().equals(none)) {
                    DemoReport.putDifference(
                            o, "validation_minus_unpruned", p.validation().minus(basePoint.validation()));
                    DemoReport.putDifference(
                            o, "heldout_minus_unpruned", p.heldout().minus(basePoint.heldout()));
                }
            }
        });
        return out;
    }

    /** One sentence a replay, for the HTML report (empty when none ran). */
    static String sentences(JsonNode summary) {
        StringBuilder b = new StringBuilder();
        summary.fields().forEachRemaining(e -> {
            JsonNode o = e.getValue();
            b.append(String.format(
                    Locale.ROOT,
                    " Replay %s: %d steps, %.1f s of steps (%s of unpruned), %d tree rows, %d turns pruned;"
                            + " validation %d/%d, held out %d/%d.",
                    e.getKey(),
                    o.path("steps").asLong(),
                    o.path("step_s").asDouble(),
                    o.has("time_vs_unpruned")
                            ? String.format(
                                    Locale.ROOT,
                                    "%.2f×",
                                    o.path("time_vs_unpruned").asDouble())
                            : "—",
                    o.path("tree_rows").asLong(),
                    o.path("pruning").path("turns_pruned").asLong(),
                    o.path("validation_passed").asInt(),
                    o.path("validation_total").asInt(),
                    o.path("heldout_passed").asInt(),
                    o.path("heldout_total").asInt()));
        });
        return b.toString();
    }

    private static double ratio(JsonNode a, JsonNode b) {
        return Math.round(a.asDouble() / b.asDouble() * 1000) / 1000.0;
    }

    private static void rate(ObjectNode o, String name, PassRate r) {
        o.put(name + "_passed", r.passed());
        o.put(name + "_total", r.total());
        DemoReport.putInterval(o, name + "_ci95", r);
    }
}
