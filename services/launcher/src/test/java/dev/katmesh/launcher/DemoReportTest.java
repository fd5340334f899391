package dev.katmesh.launcher;

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
                [{"version":0,"stage":"base","heldout_pass_rate":0.0},
                 {"version":1,"stage":"midterm","heldout_pass_rate":0.0},
                 {"version":2,"stage":"sft","heldout_pass_rate":0.2},
                 {"version":3,"stage":"sft","heldout_pass_rate":0.3},
                 {"version":4,"stage":"rft","heldout_pass_rate":0.4},
                 {"version":5,"stage":"rft","heldout_pass_rate":0.35},
                 {"version":6,"stage":"rft","heldout_pass_rate":null},
                 {"version":7,"stage":"adapt","heldout_pass_rate":0.36}]""");
        DemoReport.Summary s = DemoReport.summarize(vs);
        assertEquals(0.0, s.first());
        assertEquals(0, s.firstVersion());
        assertEquals(0.36, s.last(), 1e-9);
        assertEquals(7, s.lastVersion());
        assertEquals(0.3, s.sft(), 1e-9, "the SFT checkpoint is the last SFT version");
        assertEquals(0.35, s.rft(), 1e-9, "the last evaluated RFT version, not the best");
        assertEquals(0.4, s.rftBest(), 1e-9);
        assertTrue(s.rose());
        assertTrue(s.rftBeatsSft());

        DemoReport.Summary worse = DemoReport.summarize(versions("""
                [{"version":0,"stage":"base","heldout_pass_rate":0.1},{"version":1,"stage":"sft","heldout_pass_rate":0.3},
                 {"version":2,"stage":"rft","heldout_pass_rate":0.3}]"""));
        assertFalse(worse.rftBeatsSft(), "equal is not better");
        assertFalse(DemoReport.summarize(versions("[{\"version\":0,\"stage\":\"sft\",\"heldout_pass_rate\":0.3}]")).rftBeatsSft(),
                "no RFT version: no claim");
    }

    @Test
    void theSplitByFamilyComparesTheSftCheckpointWithTheRftVersion() throws Exception {
        JsonNode vs = versions("""
                [{"version":1,"stage":"sft","heldout_by_family":{"count-char":{"passed":8,"total":10},"grep-count":{"passed":1,"total":10}}},
                 {"version":2,"stage":"sft","heldout_by_family":{"count-char":{"passed":9,"total":10},"grep-count":{"passed":2,"total":10}}},
                 {"version":3,"stage":"rft","heldout_by_family":{"count-char":{"passed":10,"total":10},"grep-count":{"passed":2,"total":10},
                                                                "fizzbuzz":{"passed":1,"total":10}}}]""");
        JsonNode f = DemoReport.byFamily(vs, 2, 3);
        assertEquals(List.of("count-char", "fizzbuzz", "grep-count"), iterable(f.fieldNames()), "every family of either version: " + f);
        assertEquals(9, f.path("count-char").path("sft_passed").asInt(), "from the SFT checkpoint (v2), not v1: " + f);
        assertEquals(10, f.path("count-char").path("rft_passed").asInt(), f.toString());
        assertEquals(0, f.path("fizzbuzz").path("sft_passed").asInt(), "a family the SFT split lacks counts 0: " + f);
        assertEquals(10, f.path("fizzbuzz").path("total").asInt(), f.toString());
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
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
        Chart c = new Chart("A <title>", "x", "y", List.of(new Chart.Series("sine", "#1f77b4", points, false),
                new Chart.Series("dots", "#d62728", List.of(new double[] {3, 0.5}), true)), null, null);
        String svg = c.svg();
        assertTrue(svg.startsWith("<svg") && svg.endsWith("</svg>"));
        assertTrue(svg.contains("A &lt;title&gt;"), "text is escaped");
        assertTrue(svg.contains("<path d=\"M") && svg.contains("<circle"), "a line and a dot");
        assertFalse(svg.contains("NaN"), "missing values are skipped");
        c.png(dir.resolve("c.png"));
        byte[] png = Files.readAllBytes(dir.resolve("c.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(new Chart("empty", "x", "y", List.of(), 0.0, 1.0).svg().contains("empty"), "a chart without data still renders");
    }
}
