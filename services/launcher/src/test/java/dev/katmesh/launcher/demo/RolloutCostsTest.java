package dev.katmesh.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.junit.jupiter.api.Test;

class RolloutCostsTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static RolloutCosts.Episode episode(String group, long tokens, boolean solved, boolean verdict, String trace) {
        return new RolloutCosts.Episode(
                group, tokens, solved, solved ? 1 : 0, true, 0.5, 0.5, solved ? 1 : 0, false, verdict, trace, 1000);
    }

    @Test
    void aTraceIsReplayedAtAnyThresholdWithTheRulesPatienceAndGrace() {
        String trace = "3:0.950:90;4:0.850:120;5:0.950:150;6:0.920:180";
        assertEquals(-1, RolloutCosts.stopTokens(trace, 0.96, 2, 2), "never at or above 0.96");
        assertEquals(180, RolloutCosts.stopTokens(trace, 0.9, 2, 2), "turn 4 breaks the run at 0.9: stops at turn 6");
        assertEquals(120, RolloutCosts.stopTokens(trace, 0.8, 2, 2), "turns 3 and 4 at 0.8");
        assertEquals(150, RolloutCosts.stopTokens(trace, 0.8, 2, 3), "with a grace of 3, turns 4 and 5");
        assertEquals(-1, RolloutCosts.stopTokens("", 0.1, 1, 0), "an unsupervised episode");
    }

    @Test
    void theShadowCurveCountsFalseStopsAndTheTokensAStopWouldHaveSaved() {
        List<RolloutCosts.Episode> eps = List.of(
                episode("g1", 200, false, true, "3:1.000:60;4:1.000:80;5:1.000:100"),
                episode("g1", 100, true, false, "3:0.200:90"),
                episode("g2", 300, true, true, "3:0.950:100;4:0.950:150"),
                episode("g2", 100, false, false, "3:0.700:50;4:0.700:80"));
        ObjectNode at09 = RolloutCosts.replay(JSON, eps, 0.9, 2, 2);
        assertEquals(2, at09.path("stopped").asLong());
        assertEquals(1, at09.path("solved_stopped").asLong(), "the solved episode at 0.95 is a false stop");
        assertEquals(0.5, at09.path("solved_stopped_share").asDouble(), 1e-9);
        assertEquals((120.0 + 150) / 700, at09.path("tokens_saved_share").asDouble(), 1e-9);
        ObjectNode at06 = RolloutCosts.replay(JSON, eps, 0.6, 2, 2);
        assertEquals(3, at06.path("stopped").asLong(), "a lower threshold stops the 0.7 episode too");

        ObjectNode stage = RolloutCosts.stage(JSON, eps, 2, 2);
        assertEquals(4, stage.path("trajectories").asInt());
        assertEquals(2, stage.path("groups").asInt());
        assertEquals(350.0, stage.path("tokens_per_group").asDouble(), 1e-9);
        assertEquals(2, stage.path("verdicts").asLong());
        assertEquals(1, stage.path("verdicts_on_solved").asLong());
        assertTrue(stage.path("shadow_thresholds").has("0.90"), stage.toString());
    }

    @Test
    void pearsonIsOneForALinearRelationAndUndefinedForAConstant() {
        List<double[]> rows = List.of(new double[] {0, 1, 5}, new double[] {1, 3, 5}, new double[] {0.5, 2, 5});
        assertEquals(1.0, RolloutCosts.pearson(rows, 1), 1e-9);
        assertTrue(Double.isNaN(RolloutCosts.pearson(rows, 2)));
        ObjectNode s = RolloutCosts.stage(JSON, List.of(episode("g", 1, true, false, "")), 2, 2);
        assertTrue(s.path("corr_tests_absolute_similarity").isNull(), "undefined is null in the JSON, never NaN");
    }
}
