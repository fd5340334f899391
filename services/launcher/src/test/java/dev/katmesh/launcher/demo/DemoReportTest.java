package dev.katmesh.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoReportTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode versions(String json) throws Exception {
        return JSON.readTree(json);
    }

    @Test
    void theVerdictComparesTheFirstAndLastEvaluatedVersionsAndTheLastRftWithTheLastSft() throws Exception {
        JsonNode vs = versions("""
                [{"version":0,"stage":"base","heldout_pass_rate":0.0,"heldout_passed":0,"heldout_total":60,"validation_passed":0,"validation_total":50},
                 {"version":1,"stage":"midterm","heldout_pass_rate":0.0,"heldout_passed":0,"heldout_total":60},
                 {"version":2,"stage":"sft","heldout_pass_rate":0.2,"heldout_passed":12,"heldout_total":60},
                 {"version":3,"stage":"sft","heldout_pass_rate":0.3,"heldout_passed":18,"heldout_total":60,"validation_passed":10,"validation_total":50},
                 {"version":4,"stage":"rft","heldout_pass_rate":0.4,"heldout_passed":24,"heldout_total":60},
                 {"version":5,"stage":"rft","heldout_pass_rate":0.35,"heldout_passed":21,"heldout_total":60,"validation_passed":20,"validation_total":50},
                 {"version":6,"stage":"rft","heldout_pass_rate":null},
                 {"version":7,"stage":"adapt","heldout_pass_rate":0.35,"heldout_passed":21,"heldout_total":60}]""");
        DemoReport.Summary s = DemoReport.summarize(vs);
        assertEquals(0, s.first().version());
        assertEquals(7, s.last().version());
        assertEquals(3, s.sft().version(), "the SFT checkpoint is the last SFT version");
        assertEquals(5, s.rft().version(), "the last evaluated RFT version, not the best");
        assertTrue(s.rose(), "21/60 (23–48%) is above 0/60 (0–6%) beyond the intervals");
        assertEquals(0.05, s.rftMinusSftHeldout()[0], 1e-9);
        assertTrue(
                s.rftMinusSftHeldout()[1] < 0 && s.rftMinusSftHeldout()[2] > 0.05,
                "3 tasks of 60: the interval spans 0");
        assertEquals(0.2, s.rftMinusSftValidation()[0], 1e-9);
        assertTrue(s.rftMinusSftValidation()[1] > 0, "10 → 20 of 50: above 0 beyond the interval");

        assertEquals(null, s.armStage(), "no arm");

        DemoReport.Summary arms = DemoReport.summarize(versions("""
                [{"version":3,"stage":"sft","heldout_pass_rate":0.3,"heldout_passed":18,"heldout_total":60,"validation_passed":10,"validation_total":50},
                 {"version":5,"stage":"rft-advantage-shaping","heldout_pass_rate":0.4,"heldout_passed":24,"heldout_total":60,"validation_passed":25,"validation_total":50},
                 {"version":8,"stage":"rft","heldout_pass_rate":0.35,"heldout_passed":21,"heldout_total":60,"validation_passed":20,"validation_total":50},
                 {"version":9,"stage":"adapt","heldout_pass_rate":0.35,"heldout_passed":21,"heldout_total":60}]"""));
        assertEquals("rft-advantage-shaping", arms.armStage());
        assertEquals(5, arms.arm().version());
        assertEquals(8, arms.rft().version(), "GRPO's RFT ran after the arm, from the same SFT version");
        assertEquals(9, arms.last().version(), "the main line ends in adaptation");
        assertEquals(0.1, arms.armMinusRftValidation()[0], 1e-9, "25 of 50 against 20 of 50");
        assertTrue(arms.armMinusRftValidation()[1] < 0, "5 tasks of 50: the interval spans 0");

        DemoReport.Summary small = DemoReport.summarize(versions("""
                [{"version":0,"stage":"base","heldout_pass_rate":0.0,"heldout_passed":0,"heldout_total":60},
                 {"version":1,"stage":"sft","heldout_pass_rate":0.067,"heldout_passed":4,"heldout_total":60}]"""));
        assertFalse(small.rose(), "4/60 (1.8–16%) is not beyond 0/60's interval (0–6%)");
        assertTrue(
                Double.isNaN(
                        DemoReport.summarize(versions("[{\"version\":0,\"stage\":\"sft\",\"heldout_pass_rate\":0.3}]"))
                                .rftMinusSftHeldout()[0]),
                "no RFT version: no difference");
    }

    @Test
    void theSplitByFamilyComparesTheSftCheckpointWithTheRftVersion() throws Exception {
        JsonNode vs = versions("""
                [{"version":1,"stage":"sft","heldout_by_family":{"count-char":{"passed":8,"total":10},"grep-count":{"passed":1,"total":10}}},
                 {"version":2,"stage":"sft","heldout_by_family":{"count-char":{"passed":9,"total":10},"grep-count":{"passed":2,"total":10}}},
                 {"version":3,"stage":"rft","heldout_by_family":{"count-char":{"passed":10,"total":10},"grep-count":{"passed":2,"total":10},
                                                                "fizzbuzz":{"passed":1,"total":10}}}]""");
        JsonNode f = DemoReport.byFamily(vs, 2, 3);
        assertEquals(
                List.of("count-char", "fizzbuzz", "grep-count"),
                iterable(f.fieldNames()),
                "every family of either version: " + f);
        assertEquals(9, f.path("count-char").path("sft_passed").asInt(), "from the SFT checkpoint (v2), not v1: " + f);
        assertEquals(10, f.path("count-char").path("rft_passed").asInt(), f.toString());
        assertEquals(0, f.path("fizzbuzz").path("sft_passed").asInt(), "a family the SFT split lacks counts 0: " + f);
        assertEquals(10, f.path("fizzbuzz").path("total").asInt(), f.toString());
        assertEquals(0.0, f.path("fizzbuzz").path("sft_ci95").get(0).asDouble(), 1e-9, "0 of 10: from 0...");
        assertEquals(0.2775, f.path("fizzbuzz").path("sft_ci95").get(1).asDouble(), 1e-4, "...to 27.8%: " + f);
    }

    private static List<String> iterable(Iterator<String> it) {
        List<String> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void chartsRenderAsSvgAndPng(@TempDir Path dir) throws Exception {
        List<double[]> points = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            points.add(new double[] {i, Math.sin(i / 3.0)});
        }
        points.add(new double[] {21, Double.NaN});
        Chart c = new Chart(
                "A <title>",
                "x",
                "y",
                List.of(
                        new Chart.Series("sine", "#1f77b4", points, false),
                        new Chart.Series("dots", "#d62728", List.of(new double[] {3, 0.5}), true)),
                null,
                null);
        String svg = c.svg();
        assertTrue(svg.startsWith("<svg") && svg.endsWith("</svg>"));
        assertTrue(svg.contains("A &lt;title&gt;"), "text is escaped");
        assertTrue(svg.contains("<path d=\"M") && svg.contains("<circle"), "a line and a dot");
        assertFalse(svg.contains("NaN"), "missing values are skipped");
        c.png(dir.resolve("c.png"));
        byte[] png = Files.readAllBytes(dir.resolve("c.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(
                new Chart("empty", "x", "y", List.of(), 0.0, 1.0).svg().contains("empty"),
                "a chart without data still renders");
    }
}
