package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What each RFT stage's rollouts cost and what supervision did to them, from the scored rollouts (the stage is the
 * one that produced the policy of an episode's last turn, as the rollout service records it): trajectories, groups,
 * generated tokens and the scoring span per group; episodes ended as deviated; the rule's verdicts in shadow mode
 * against the episodes' outcomes (a verdict on a solved episode is a false stop), and from the traces what each
 * threshold would have done; and how each form of closeness to the references tracks the tests' pass fraction.
 */
final class RolloutCosts {

    /** Thresholds the shadow traces are replayed at (docs/algorithms.md: how the default was chosen). */
    static final double[] THRESHOLDS = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0};

    /** One scored rollout, as much as the figures need. */
    record Episode(
            String group,
            long tokens,
            boolean solved,
            double tests,
            boolean submitted,
            double similarity,
            double progress,
            double reward,
            boolean deviated,
            boolean verdict,
            String trace,
            long scoredAtMs) {}

    private final Map<String, List<Episode>> byStage = new TreeMap<>();

    synchronized void record(ScoredTrajectory s) {
        Trajectory t = s.getTrajectory();
        // The stage whose rule watched the episode: the one it was rolled out for, even from an earlier stage's
        // version.
        String stage = t.getMetadataOrDefault("supervision_stage", t.getMetadataOrDefault("policy_stage", ""));
        if (!DemoPlan.isRft(stage)) {
            return;
        }
        long tokens = 0;
        for (TokenSegment seg : t.getSegmentsList()) {
            tokens += seg.getGenerated() ? seg.getEnd() - seg.getStart() : 0;
        }
        byStage.computeIfAbsent(stage, k -> new ArrayList<>())
                .add(new Episode(
                        t.getGroupId(),
                        tokens,
                        ScoredWatcher.solved(s),
                        component(s, "tests"),
                        t.getOutcome().getSubmitted(),
                        component(s, "reference_similarity"),
                        component(s, "reference_progress"),
                        s.getReward(),
                        t.getMetadataOrDefault("end_reason", "").equals("deviated"),
                        t.containsMetadata("supervision_verdict"),
                        t.getMetadataOrDefault("supervision_trace", ""),
                        s.getScoredAtMs()));
    }

    private static double component(ScoredTrajectory s, String name) {
        for (RewardComponent c : s.getComponentsList()) {
            if (c.getName().equals(name)) {
                return c.getValue();
            }
        }
        return 0;
    }

    /** The figures of each stage, as report.json's {@code rollout_costs}. */
    synchronized ObjectNode summary(ObjectMapper json, int patience, int graceTurns) {
        ObjectNode out = json.createObjectNode();
        byStage.forEach((stage, eps) -> out.set(stage, stage(json, eps, patience, graceTurns)));
        return out;
    }

    static ObjectNode stage(ObjectMapper json, List<Episode> eps, int patience, int graceTurns) {
        ObjectNode o = json.createObjectNode();
        Set<String> groups = new HashSet<>();
        long tokens = 0, solved = 0, deviated = 0, verdicts = 0, falseStops = 0;
        double reward = 0;
        long first = Long.MAX_VALUE, last = 0;
        for (Episode e : eps) {
            groups.add(e.group());
            tokens += e.tokens();
            solved += e.solved() ? 1 : 0;
            deviated += e.deviated() ? 1 : 0;
            verdicts += e.verdict() ? 1 : 0;
            falseStops += e.verdict() && e.solved() ? 1 : 0;
            reward += e.reward();
            first = Math.min(first, e.scoredAtMs());
            last = Math.max(last, e.scoredAtMs());
        }
        int n = eps.size();
        o.put("trajectories", n);
        o.put("groups", groups.size());
        o.put("solved", solved);
        o.put("reward_mean", n == 0 ? 0 : reward / n);
        o.put("generated_tokens", tokens);
        o.put("tokens_per_group", groups.isEmpty() ? 0 : (double) tokens / groups.size());
        o.put("scoring_span_s_per_group", groups.size() < 2 ? 0 : (last - first) / 1000.0 / (groups.size() - 1));
        o.put("ended_deviated", deviated);
        o.put("verdicts", verdicts);
        o.put("verdicts_on_solved", falseStops);
        ObjectNode curve = o.putObject("shadow_thresholds");
        for (double tau : THRESHOLDS) {
            curve.set(String.format(Locale.ROOT, "%.2f", tau), replay(json, eps, tau, patience, graceTurns));
        }
        List<double[]> submitted = new ArrayList<>();
        eps.stream()
                .filter(Episode::submitted)
                .forEach(e -> submitted.add(new double[] {e.tests(), e.similarity(), e.progress()}));
        o.put("submitted", submitted.size());
        putFinite(o, "corr_tests_absolute_similarity", pearson(submitted, 1));
        putFinite(o, "corr_tests_relative_progress", pearson(submitted, 2));
        return o;
    }

    /** What the rule at threshold {@code tau} would have stopped, and saved, on these episodes' traces. */
    static ObjectNode replay(ObjectMapper json, List<Episode> eps, double tau, int patience, int graceTurns) {
        long stopped = 0, stoppedSolved = 0, solved = 0, saved = 0, total = 0;
        for (Episode e : eps) {
            total += e.tokens();
            solved += e.solved() ? 1 : 0;
            long at = stopTokens(e.trace(), tau, patience, graceTurns);
            if (at >= 0 && !e.deviated()) {
                stopped++;
                stoppedSolved += e.solved() ? 1 : 0;
                saved += Math.max(0, e.tokens() - at);
            }
        }
        ObjectNode o = json.createObjectNode();
        o.put("stopped", stopped);
        o.put("solved_stopped", stoppedSolved);
        o.put("solved_stopped_share", solved == 0 ? 0 : (double) stoppedSolved / solved);
        o.put("tokens_saved_share", total == 0 ? 0 : (double) saved / total);
        return o;
    }

    /** The tokens generated when the rule would stop on {@code trace} ({@code turn:discrepancy:tokens;...}), or -1. */
    static long stopTokens(String trace, double tau, int patience, int graceTurns) {
        if (trace.isEmpty()) {
            return -1;
        }
        int off = 0;
        for (String step : trace.split(";")) {
            String[] f = step.split(":");
            if (Integer.parseInt(f[0]) <= graceTurns) {
                continue;
            }
            off = Double.parseDouble(f[1]) >= tau ? off + 1 : 0;
            if (off >= patience) {
                return Long.parseLong(f[2]);
            }
        }
        return -1;
    }

    private static void putFinite(ObjectNode o, String name, double v) {
        if (Double.isFinite(v)) {
            o.put(name, v);
        } else {
            o.putNull(name);
        }
    }

    /** Pearson's r between column 0 and column {@code k}; NaN when either is constant. */
    static double pearson(List<double[]> rows, int k) {
        int n = rows.size();
        double mx = 0, my = 0;
        for (double[] r : rows) {
            mx += r[0] / n;
            my += r[k] / n;
        }
        double sxy = 0, sxx = 0, syy = 0;
        for (double[] r : rows) {
            sxy += (r[0] - mx) * (r[k] - my);
            sxx += (r[0] - mx) * (r[0] - mx);
            syy += (r[k] - my) * (r[k] - my);
        }
        return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
    }
}
