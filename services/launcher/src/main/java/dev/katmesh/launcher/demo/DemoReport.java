package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.bench.Measurements;
import dev.katmesh.tasks.PassRate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The main job's report: report.json (every policy version with its stage and held-out pass rate, the
 * summary of what learning happened, the series behind the plots) and report.html with the plots,
 * each also written as a PNG.
 */
public final class DemoReport {

    /** An evaluated version: its held-out and validation results. */
    public record Point(long version, PassRate heldout, PassRate validation) {
        static final Point NONE = new Point(-1, new PassRate(0, 0), new PassRate(0, 0));

        double rate() {
            return heldout.rate();
        }
    }

    /**
     * The verdict on learning, computed from the evaluated versions: the first and last, the last SFT and
     * the last RFT version. The held-out split is only reported; settings are chosen on validation.
     */
    public record Summary(Point first, Point last, Point sft, Point rft, String armStage, Point arm) {
        /** The final version is above the base beyond both 95% intervals. */
        public boolean rose() {
            return last.heldout().aboveBeyondIntervals(first.heldout());
        }

        public double[] rftMinusSftHeldout() {
            return rft.heldout().minus(sft.heldout());
        }

        public double[] rftMinusSftValidation() {
            return rft.validation().minus(sft.validation());
        }

        /** An RFT arm (a variant from the same SFT version, {@code demo --rft-arm}) against GRPO's RFT. */
        public double[] armMinusRftValidation() {
            return arm.validation().minus(rft.validation());
        }

        public double[] armMinusRftHeldout() {
            return arm.heldout().minus(rft.heldout());
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Map<String, String> STAGE_COLORS =
            Map.of("base", "#888888", "midterm", "#8c564b", "sft", "#1f77b4", "rft", "#d62728", "adapt", "#2ca02c");

    private DemoReport() {}

    static Summary summarize(JsonNode versions) {
        Point first = Point.NONE, last = Point.NONE, sft = Point.NONE, rft = Point.NONE, arm = Point.NONE;
        String armStage = null;
        for (JsonNode v : versions) {
            if (!v.path("heldout_pass_rate").isNumber()
                    || DemoPlan.isTreeBudgetStage(v.path("stage").asText())) {
                continue; // the tree-budget replays are compared among themselves (TreeBudgets)
            }
            Point p = point(v);
            first = first == Point.NONE ? p : first;
            last = p;
            String stage = v.path("stage").asText();
            switch (stage) {
                case "sft" -> sft = p;
                case "rft" -> rft = p;
                default -> {
                    if (DemoPlan.isRft(stage)) {
                        arm = p;
                        armStage = stage;
                    }
                }
            }
        }
        return new Summary(first, last, sft, rft, armStage, arm);
    }

    /** An evaluated version of the progress's policy_versions. */
    static Point point(JsonNode v) {
        return new Point(
                v.path("version").asLong(),
                new PassRate(
                        v.path("heldout_passed").asInt(),
                        v.path("heldout_total").asInt()),
                new PassRate(
                        v.path("validation_passed").asInt(),
                        v.path("validation_total").asInt()));
    }

    /** " Peak resident memory: learner 9.1 GB, …" (empty where unknown). */
    public static String memory(Map<String, Long> peaks) {
        StringBuilder b = new StringBuilder();
        peaks.forEach((service, bytes) -> b.append(b.isEmpty() ? " Peak resident memory: " : ", ")
                .append(service)
                .append(String.format(Locale.ROOT, " %.2f GB", bytes / 1e9)));
        return b.isEmpty() ? "" : b.append('.').toString();
    }

    private static void putPoint(ObjectNode summary, String name, Point p) {
        summary.put(name + "_version", p.version());
        putRate(summary, name + "_heldout", p.heldout());
        putRate(summary, name + "_validation", p.validation());
    }

    private static void putRate(ObjectNode o, String name, PassRate r) {
        put(o, name + "_pass_rate", r.rate());
        o.put(name + "_passed", r.passed());
        o.put(name + "_total", r.total());
        putInterval(o, name + "_ci95", r);
    }

    static void putInterval(ObjectNode o, String name, PassRate r) {
        ArrayNode ci = o.putArray(name);
        for (double x : r.interval()) {
            ci.add(Math.round(x * 10_000) / 10_000.0);
        }
    }

    static void putDifference(ObjectNode o, String name, double[] d) {
        put(o, name, d[0]);
        ArrayNode ci = o.putArray(name + "_ci95");
        ci.add(Math.round(d[1] * 10_000) / 10_000.0);
        ci.add(Math.round(d[2] * 10_000) / 10_000.0);
    }

    /** Each RFT stage's rollout cost, and supervision's verdicts, in a sentence each. */
    static String rolloutCosts(JsonNode costs) {
        StringBuilder out = new StringBuilder();
        costs.fields().forEachRemaining(e -> {
            JsonNode c = e.getValue();
            out.append(String.format(
                    Locale.ROOT,
                    " Rollouts of %s: %d groups, %.0f generated tokens a group, %d episodes ended as deviated; the rule's"
                            + " verdicts: %d, %d of them on solved episodes.",
                    esc(e.getKey()),
                    c.path("groups").asLong(),
                    c.path("tokens_per_group").asDouble(),
                    c.path("ended_deviated").asLong(),
                    c.path("verdicts").asLong(),
                    c.path("verdicts_on_solved").asLong()));
        });
        return out.toString();
    }

    /** Writes report.json, report.html and the PNGs into {@code dir}; returns the summary. */
    public static Summary write(Path dir, DemoPlan plan, DemoSetup.Prepared prepared, DemoRun.Outcome run)
            throws IOException {
        Files.createDirectories(dir);
        JsonNode versions = run.finalProgress().path("policy_versions");
        Summary s = summarize(versions);

        ObjectNode report = JSON.createObjectNode();
        ArrayNode vs = report.putArray("policy_versions");
        versions.forEach(v -> vs.add(v));
        ObjectNode summary = report.putObject("summary");
        summary.put("complete", run.complete());
        summary.put("ended", run.why());
        summary.put("wall_s", Math.round(run.wallSeconds()));
        putPoint(summary, "first", s.first());
        putPoint(summary, "last", s.last());
        putPoint(summary, "sft", s.sft());
        putPoint(summary, "rft", s.rft());
        put(summary, "heldout_gain", s.last().rate() - s.first().rate());
        summary.put("heldout_rose_beyond_ci", s.rose());
        putDifference(summary, "rft_minus_sft_heldout", s.rftMinusSftHeldout());
        putDifference(summary, "rft_minus_sft_validation", s.rftMinusSftValidation());
        if (s.armStage() != null) { // both arms from the SFT version; settings are judged on validation
            summary.put("arm_stage", s.armStage());
            putPoint(summary, "arm", s.arm());
            putDifference(summary, "arm_minus_rft_validation", s.armMinusRftValidation());
            putDifference(summary, "arm_minus_rft_heldout", s.armMinusRftHeldout());
        }
        summary.set(
                "rft_vs_sft_by_family",
                byFamily(versions, s.sft().version(), s.rft().version()));
        summary.put("rollout_tasks_sent", run.rolloutTasks());
        summary.set("rollout_costs", run.rolloutCosts());
        ObjectNode treeBudgets =
                TreeBudgets.summary(versions, run.finalProgress().path("training_by_stage"));
        if (!treeBudgets.isEmpty()) {
            summary.set("tree_budgets", treeBudgets);
        }
        ObjectNode families = summary.putObject("rft_task_families");
        run.rftTaskFamilies().forEach(families::put);
        summary.put("deployed_sessions", run.deployedSessions());
        summary.put("deployed_sessions_submitted", run.deployedSubmitted());
        JsonNode fp = run.finalProgress();
        summary.set("agent_to_trainer_ms", fp.path("agent_to_trainer_ms"));
        summary.set("agent_to_trainer_by_stage", fp.path("agent_to_trainer_by_stage"));
        summary.set("staleness", fp.path("staleness"));
        summary.set("dropped", fp.path("dropped"));
        summary.put("trajectories_trained", fp.path("trajectories_trained").asLong());
        summary.set("stages_ended", fp.path("stages_ended"));
        ObjectNode peaks = summary.putObject("peak_resident_mb");
        run.peakResidentBytes().forEach((service, bytes) -> peaks.put(service, Math.round(bytes / 1048576.0)));
        ObjectNode setup = report.putObject("setup");
        setup.put("tasks_train", prepared.train().size());
        setup.put("tasks_validation", prepared.validationCount());
        setup.put("tasks_heldout", prepared.heldoutCount());
        setup.put("content_overlap", prepared.overlap().total());
        setup.put("content_overlap_summary", prepared.overlap().summary());
        setup.put("sft_trajectories", prepared.sft());
        setup.put("corpus_documents", prepared.corpusDocuments());
        setup.put("vocab", prepared.vocab());
        setup.put("parameters", prepared.parameters());
        setup.put("model", prepared.model().toString());
        setup.put("allocator", Measurements.allocator()); // the services' memory figures depend on it
        setup.set("plan", JSON.valueToTree(plan));
        ArrayNode series = report.putArray("series");
        run.series().forEach(series::add);
        Files.writeString(dir.resolve("report.json"), JSON.writeValueAsString(report), StandardCharsets.UTF_8);

        List<Map.Entry<String, Chart>> charts = charts(versions, run.series());
        StringBuilder html = new StringBuilder();
        html.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>katmesh main job report</title><style>")
                .append("body{font-family:sans-serif;max-width:1340px;margin:24px auto;padding:0 12px;color:#222}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
                .append(
                        ".charts{display:flex;flex-wrap:wrap;gap:12px}.ok{color:#2a7d2a}.bad{color:#b22}</style></head><body>")
                .append("<h1>katmesh main job</h1>");
        html.append("<p id=\"verdict\">Held-out pass rate v")
                .append(s.first().version())
                .append(' ')
                .append(s.first().heldout())
                .append(" → v")
                .append(s.last().version())
                .append(' ')
                .append(s.last().heldout())
                .append(": <b class=\"")
                .append(
                        s.rose()
                                ? "ok\">above the base beyond the intervals"
                                : "bad\">not above the base beyond the intervals")
                .append("</b>. ")
                .append("RFT (v")
                .append(s.rft().version())
                .append(") against the SFT checkpoint (v")
                .append(s.sft().version())
                .append("): ")
                .append(diff(s.rftMinusSftValidation()))
                .append(" on validation, ")
                .append(diff(s.rftMinusSftHeldout()))
                .append(" held out.")
                .append(
                        s.armStage() == null
                                ? ""
                                : " The arm " + esc(s.armStage()) + " (v"
                                        + s.arm().version() + ", from the same SFT"
                                        + " version) against RFT: " + diff(s.armMinusRftValidation())
                                        + " on validation, " + diff(s.armMinusRftHeldout()) + " held out.")
                .append(rolloutCosts(run.rolloutCosts()))
                .append(TreeBudgets.sentences(treeBudgets))
                .append("</p>");
        html.append("<p>")
                .append(run.complete() ? "The curriculum completed" : "The run stopped early: " + esc(run.why()))
                .append(String.format(
                        Locale.ROOT,
                        " in %.1f min; %d tasks sent to rollout, %d deployed sessions (%d submitted), %d trajectories trained.",
                        run.wallSeconds() / 60,
                        run.rolloutTasks(),
                        run.deployedSessions(),
                        run.deployedSubmitted(),
                        fp.path("trajectories_trained").asLong()))
                .append(" Model: ")
                .append(prepared.parameters())
                .append(" parameters, vocabulary ")
                .append(prepared.vocab())
                .append("; ")
                .append(prepared.train().size())
                .append(" training tasks, ")
                .append(prepared.validationCount())
                .append(" validation, ")
                .append(prepared.heldoutCount())
                .append(" held out; ")
                .append(esc(prepared.overlap().summary()))
                .append(".")
                .append(memory(run.peakResidentBytes()))
                .append("</p>");
        html.append("<div class=\"charts\">");
        for (Map.Entry<String, Chart> c : charts) {
            c.getValue().png(dir.resolve(c.getKey() + ".png"));
            html.append("<figure id=\"")
                    .append(c.getKey())
                    .append("\">")
                    .append(c.getValue().svg())
                    .append("<figcaption><a href=\"")
                    .append(c.getKey())
                    .append(".png\">")
                    .append(c.getKey())
                    .append(".png</a></figcaption></figure>");
        }
        html.append(
                        "</div><h2>Policy versions</h2><table><tr><th>version</th><th>stage</th><th>step</th><th>loss</th><th>reward</th>")
                .append("<th>held-out pass rate</th><th>trajectories trained</th></tr>");
        for (JsonNode v : versions) {
            html.append("<tr><td>")
                    .append(v.path("version").asLong())
                    .append("</td><td>")
                    .append(esc(v.path("stage").asText()))
                    .append("</td><td>")
                    .append(v.path("step").asLong())
                    .append("</td><td>")
                    .append(num(v.path("loss")))
                    .append("</td><td>")
                    .append(num(v.path("reward_mean")))
                    .append("</td><td>")
                    .append(
                            v.path("heldout_pass_rate").isNumber()
                                    ? pct(v.get("heldout_pass_rate").asDouble()) + " ("
                                            + v.path("heldout_passed").asInt() + "/"
                                            + v.path("heldout_total").asInt() + ")"
                                    : "–")
                    .append("</td><td>")
                    .append(v.path("trajectories_trained").asLong())
                    .append("</td></tr>");
        }
        html.append("</table>");
        familyTable(html, versions);
        html.append("<p>Data: <a href=\"report.json\">report.json</a>.</p></body></html>\n");
        Files.writeString(dir.resolve("report.html"), html, StandardCharsets.UTF_8);
        return s;
    }

    /** Per task family: held-out tasks the SFT checkpoint and the RFT version passed (what RL moved, and where). */
    public static ObjectNode byFamily(JsonNode versions, long sftVersion, long rftVersion) {
        ObjectNode out = JSON.createObjectNode();
        JsonNode sft = JSON.missingNode();
        JsonNode rft = JSON.missingNode();
        for (JsonNode v : versions) {
            long n = v.path("version").asLong(-1);
            sft = n == sftVersion ? v.path("heldout_by_family") : sft;
            rft = n == rftVersion ? v.path("heldout_by_family") : rft;
        }
        SortedSet<String> families = new TreeSet<>();
        sft.fieldNames().forEachRemaining(families::add);
        rft.fieldNames().forEachRemaining(families::add);
        for (String f : families) {
            ObjectNode o = out.putObject(f);
            int total = Math.max(
                    sft.path(f).path("total").asInt(), rft.path(f).path("total").asInt());
            o.put("total", total);
            o.put("sft_passed", sft.path(f).path("passed").asInt());
            o.put("rft_passed", rft.path(f).path("passed").asInt());
            // each family's rates with their 95% intervals: a family is a handful of tasks, and says so
            putInterval(
                    o,
                    "sft_ci95",
                    new PassRate(Math.min(total, sft.path(f).path("passed").asInt()), total));
            putInterval(
                    o,
                    "rft_ci95",
                    new PassRate(Math.min(total, rft.path(f).path("passed").asInt()), total));
        }
        return out;
    }

    /** The held-out evaluation split by task family: one row per family, one column per evaluated version. */
    private static void familyTable(StringBuilder html, JsonNode versions) {
        List<JsonNode> evaluated = new ArrayList<>();
        SortedSet<String> families = new TreeSet<>();
        for (JsonNode v : versions) {
            if (v.path("heldout_by_family").size() > 0) {
                evaluated.add(v);
                v.path("heldout_by_family").fieldNames().forEachRemaining(families::add);
            }
        }
        if (evaluated.isEmpty()) {
            return;
        }
        html.append("<h2>Held-out tasks passed, by task family</h2><table id=\"families\"><tr><th>family</th>");
        evaluated.forEach(v -> html.append("<th>v")
                .append(v.path("version").asLong())
                .append(' ')
                .append(esc(v.path("stage").asText()))
                .append("</th>"));
        html.append("</tr>");
        for (String f : families) {
            html.append("<tr><td>").append(esc(f)).append("</td>");
            for (JsonNode v : evaluated) {
                JsonNode c = v.path("heldout_by_family").path(f);
                html.append("<td>")
                        .append(
                                c.isMissingNode()
                                        ? "–"
                                        : c.path("passed").asInt() + "/"
                                                + c.path("total").asInt())
                        .append("</td>");
            }
            html.append("</tr>");
        }
        html.append("</table>");
    }

    private static List<Map.Entry<String, Chart>> charts(JsonNode versions, List<ObjectNode> series) {
        Map<String, List<double[]>> byStage = new LinkedHashMap<>();
        for (JsonNode v : versions) {
            if (v.path("heldout_pass_rate").isNumber()) {
                byStage.computeIfAbsent(v.path("stage").asText(), k -> new ArrayList<>())
                        .add(new double[] {
                            v.path("version").asDouble(),
                            v.get("heldout_pass_rate").asDouble()
                        });
            }
        }
        List<Chart.Series> heldout = new ArrayList<>();
        byStage.forEach((stage, points) ->
                heldout.add(new Chart.Series(stage, STAGE_COLORS.getOrDefault(stage, "#555555"), points, true)));
        List<Map.Entry<String, Chart>> out = new ArrayList<>();
        out.add(Map.entry(
                "heldout",
                new Chart("Held-out pass rate per policy version", "policy version", "pass rate", heldout, 0.0, 1.0)));
        out.add(Map.entry(
                "reward",
                new Chart(
                        "Mean reward of the trained RL groups",
                        "time (s)",
                        "reward",
                        List.of(line("reward mean", "#d62728", series, n -> n.path("reward_mean"))),
                        null,
                        null)));
        out.add(Map.entry(
                "loss",
                new Chart(
                        "Training loss",
                        "time (s)",
                        "loss",
                        List.of(line("loss", "#1f77b4", series, n -> n.path("loss"))),
                        0.0,
                        null)));
        out.add(Map.entry(
                "throughput",
                new Chart(
                        "Trajectories trained per second (last minute)",
                        "time (s)",
                        "trajectories/s",
                        List.of(line("trajectories/s", "#2ca02c", series, n -> n.path("trajectories_per_s"))),
                        0.0,
                        null)));
        out.add(Map.entry(
                "latency",
                new Chart(
                        "Agent → trainer latency (publish to first gradient step)",
                        "time (s)",
                        "seconds",
                        List.of(
                                line("p50", "#9467bd", series, n -> seconds(n.path("agent_to_trainer_p50_ms"))),
                                line("p99", "#ff7f0e", series, n -> seconds(n.path("agent_to_trainer_p99_ms")))),
                        0.0,
                        null)));
        return out;
    }

    private static JsonNode seconds(JsonNode ms) {
        return ms.isNumber() ? JSON.getNodeFactory().numberNode(ms.asDouble() / 1000) : ms;
    }

    private static Chart.Series line(
            String name, String color, List<ObjectNode> series, Function<JsonNode, JsonNode> value) {
        List<double[]> points = new ArrayList<>();
        for (ObjectNode n : series) {
            JsonNode v = value.apply(n);
            if (v != null && v.isNumber()) {
                points.add(new double[] {n.path("t_s").asDouble(), v.asDouble()});
            }
        }
        return new Chart.Series(name, color, points, false);
    }

    private static void put(ObjectNode o, String name, double v) {
        if (Double.isFinite(v)) {
            o.put(name, Math.round(v * 10_000) / 10_000.0);
        } else {
            o.putNull(name);
        }
    }

    /** "+3.3 points (95% CI −8.1 to +14.6)". */
    public static String diff(double[] d) {
        return Double.isFinite(d[0])
                ? String.format(
                        Locale.ROOT, "%+.1f points (95%% CI %+.1f to %+.1f)", 100 * d[0], 100 * d[1], 100 * d[2])
                : "–";
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "–";
    }

    private static String num(JsonNode n) {
        return n.isNumber() ? String.format(Locale.ROOT, "%.3f", n.asDouble()) : "–";
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
