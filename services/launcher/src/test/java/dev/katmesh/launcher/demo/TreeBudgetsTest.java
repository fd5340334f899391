package dev.katmesh.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class TreeBudgetsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void eachReplayIsSetAgainstTheUnprunedOneAndTheMainLineIgnoresThem() throws Exception {
        JsonNode versions = JSON.readTree("""
                [{"version": 4, "stage": "adapt", "heldout_pass_rate": 0.3, "heldout_passed": 12, "heldout_total": 40,
                  "validation_passed": 14, "validation_total": 40},
                 {"version": 5, "stage": "adapt-tree-none"},
                 {"version": 6, "stage": "adapt-tree-none", "heldout_pass_rate": 0.25, "heldout_passed": 10,
                  "heldout_total": 40, "validation_passed": 12, "validation_total": 40},
                 {"version": 8, "stage": "adapt-tree-640", "heldout_pass_rate": 0.3, "heldout_passed": 12,
                  "heldout_total": 40, "validation_passed": 16, "validation_total": 40}]
                """);
        JsonNode training = JSON.readTree("""
                {"adapt": {"steps": 30, "step_ms": 9000, "tree_rows": 50000, "loss_tokens": 9000},
                 "adapt-tree-none": {"steps": 20, "step_ms": 8000, "tree_rows": 40000, "loss_tokens": 8000},
                 "adapt-tree-640": {"steps": 20, "step_ms": 6000, "tree_rows": 30000, "loss_tokens": 5000,
                   "pruning": {"turns_pruned": 17, "rows_before": 40000, "rows_after": 30000}}}
                """);
        ObjectNode s = TreeBudgets.summary(versions, training);
        assertEquals(2, s.size(), "the two replays, not adaptation");
        JsonNode none = s.path("adapt-tree-none");
        assertEquals(6, none.path("version").asLong(), "the replay's last evaluated version");
        assertEquals(1.0, none.path("time_vs_unpruned").asDouble());
        assertFalse(none.has("validation_minus_unpruned"));
        JsonNode b = s.path("adapt-tree-640");
        assertEquals(0.75, b.path("time_vs_unpruned").asDouble(), "6 s of steps against 8");
        assertEquals(0.75, b.path("rows_vs_unpruned").asDouble());
        assertEquals(17, b.path("pruning").path("turns_pruned").asInt());
        assertEquals(0.1, b.path("validation_minus_unpruned").asDouble(), 1e-9, "16/40 − 12/40");
        assertEquals(0.05, b.path("heldout_minus_unpruned").asDouble(), 1e-9);
        JsonNode ci = b.path("validation_minus_unpruned_ci95");
        assertTrue(ci.get(0).asDouble() < 0.1 && ci.get(1).asDouble() > 0.1, "Newcombe's interval around it: " + ci);
        assertTrue(TreeBudgets.sentences(s).contains("0.75× of unpruned"), TreeBudgets.sentences(s));
        assertEquals(4, DemoReport.summarize(versions).last().version(), "the main line ends with adaptation");
    }
}
