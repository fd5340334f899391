package dev.katmesh.learner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.training.PolicyMismatch;
import dev.katmesh.training.TreePruning;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the learner has done, for people: the live state of the curriculum (stage, step, loss, reward,
 * throughput, staleness, agent-to-trainer latency) and one point per policy version with its held-out
 * pass rate. Served as JSON at /katmesh/progress (the dashboard and {@code ./katmesh demo} read it).
 *
 * <p>The per-version history is appended to progress.jsonl beside the checkpoints, so it survives a
 * restart of the learner like the checkpoints do; the live figures start again from zero.
 */
public final class LearnerProgress {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WINDOW = StageLatencies.WINDOW;

    private final Path file;
    private final List<VersionPoint> versions = new ArrayList<>();
    private final ArrayDeque<long[]> trainedAt = new ArrayDeque<>(); // {time ms, trajectories}
    private final ArrayDeque<Long> latenciesMs = new ArrayDeque<>();
    private final StageLatencies byStage = new StageLatencies();
    private final StageTraining training = new StageTraining();
    private final ArrayDeque<Long> staleness = new ArrayDeque<>();
    private final Map<String, Long> dropped = new LinkedHashMap<>();
    private final List<String[]> ended = new ArrayList<>(); // {stage, steps, why} of each stage this process ended
    private List<String> stages = List.of();
    private String stage = "none";
    private String objective = "";
    private long stageStep;
    private long stageSteps;
    private long step;
    private long version = -1;
    private double loss = Double.NaN;
    private double rewardMean = Double.NaN;
    private long trajectoriesTrained;
    private long tokensTrained;
    private boolean complete;
    private String evaluating;
    private long recordsConsumed;
    private int groupsQueued;
    private String correction;
    private PolicyMismatch lastMismatch = PolicyMismatch.EMPTY;
    private PolicyMismatch stageMismatch = PolicyMismatch.EMPTY;
    private final long startedAtMs = System.currentTimeMillis();

    public LearnerProgress(Path file) {
        this.file = file;
        if (Files.isRegularFile(file)) {
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (!line.isBlank()) {
                        VersionPoint p = JSON.readValue(line, VersionPoint.class);
                        versions.removeIf(v -> v.version() >= p.version()); // a restart re-published these
                        versions.add(p);
                    }
                }
            } catch (IOException e) {
                // A torn last line (a crash mid-append) loses that line only: keep what parsed.
            }
        }
    }

    public synchronized void curriculum(List<String> stageNames) {
        this.stages = List.copyOf(stageNames);
    }

    public synchronized void stage(String name, String objective, long fromStep, long steps) {
        this.stage = name;
        this.objective = objective;
        this.stageStep = fromStep;
        this.stageSteps = steps;
        this.correction = null;
        this.lastMismatch = PolicyMismatch.EMPTY;
        this.stageMismatch = PolicyMismatch.EMPTY;
    }

    /**
     * A policy-gradient step's mismatch between the behaviour policy and the learner, under the stage's
     * {@code correction}: reported for the last step and summed over the stage.
     */
    public synchronized void mismatch(String correction, PolicyMismatch m) {
        this.correction = correction;
        this.lastMismatch = m;
        this.stageMismatch = stageMismatch.plus(m);
    }

    /** A stage ended after {@code steps} of its steps: on its steps, its {@code until}, or its budget of trajectories. */
    public synchronized void stageEnded(String name, long steps, String why) {
        ended.add(new String[] {name, Long.toString(steps), why});
    }

    /** A step's cost in stage {@code stage} (its time, the tree rows it computed) and what pruning took from it. */
    public synchronized void trees(String stage, long stepMs, long rows, long lossTokens, TreePruning.Counts pruned) {
        training.step(stage, stepMs, rows, lossTokens, pruned);
    }

    public synchronized void stepped(
            long step, long stageStep, double loss, double rewardMean, int trajectories, long tokens, long stepMs) {
        this.step = step;
        byStage.step(stage, stepMs);
        this.stageStep = stageStep;
        this.loss = loss;
        if (!Double.isNaN(rewardMean)) {
            this.rewardMean = rewardMean;
        }
        trajectoriesTrained += trajectories;
        tokensTrained += tokens;
        trainedAt.add(new long[] {System.currentTimeMillis(), trajectories});
        while (trainedAt.size() > WINDOW) {
            trainedAt.poll();
        }
    }

    /** From a trajectory's publication to the gradient step that first trained it. */
    public synchronized void latency(long ms) {
        StageLatencies.bounded(latenciesMs, ms);
        byStage.latency(stage, ms);
    }

    /**
     * As {@link #latency(long)}, with the part of it since the scored record was written ({@code scoredToTrainedMs}:
     * the learner's hop); the rest is the reward's. The two hops are timed by the clocks of the agent's and the
     * reward's producers, so across machines they carry the clocks' skew.
     */
    public synchronized void latency(long ms, long scoredToTrainedMs) {
        StageLatencies.bounded(latenciesMs, ms);
        byStage.latency(stage, ms, scoredToTrainedMs);
    }

    public synchronized void staleness(long versionsBehind) {
        staleness.add(versionsBehind);
        while (staleness.size() > WINDOW) {
            staleness.poll();
        }
    }

    /**
     * Where a topic stage's loop stands after an iteration (the steps it could take are done): records
     * taken from the topic so far, and complete groups waiting for a step. A driver that waits for every
     * update (the synchronous baseline of {@code ./katmesh bench async}) tells from these whether the
     * learner consumed what it was given and is waiting for more.
     */
    public synchronized void consumed(long records, int queuedGroups) {
        this.recordsConsumed = records;
        this.groupsQueued = queuedGroups;
    }

    public synchronized void dropped(String reason, int n) {
        dropped.merge(reason, (long) n, Long::sum);
    }

    public synchronized void evaluating(String what) {
        this.evaluating = what;
    }

    public synchronized void complete() {
        this.complete = true;
    }

    /** A published version (with its evaluation, if any), appended to progress.jsonl. */
    public synchronized void published(VersionPoint p) {
        version = p.version();
        versions.removeIf(v -> v.version() >= p.version());
        versions.add(p);
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(
                    file,
                    JSON.writeValueAsString(p) + "\n",
                    StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new IllegalStateException("cannot append to " + file + ": " + e.getMessage(), e);
        }
    }

    public synchronized List<VersionPoint> versions() {
        return List.copyOf(versions);
    }

    public synchronized long trajectoriesTrained() {
        return trajectoriesTrained;
    }

    /** The JSON served at /katmesh/progress. */
    public synchronized ObjectNode snapshot() {
        ObjectNode o = JSON.createObjectNode();
        long now = System.currentTimeMillis();
        o.put("now_ms", now);
        o.put("uptime_s", (now - startedAtMs) / 1000.0);
        ArrayNode st = o.putArray("stages");
        stages.forEach(st::add);
        o.put("stage", stage);
        o.put("objective", objective);
        o.put("stage_step", stageStep);
        if (stageSteps > 0 && stageSteps < Long.MAX_VALUE) {
            o.put("stage_steps", stageSteps);
        }
        o.put("step", step);
        o.put("policy_version", version);
        putNumber(o, "loss", loss);
        putNumber(o, "reward_mean", rewardMean);
        o.put("trajectories_trained", trajectoriesTrained);
        o.put("tokens_trained", tokensTrained);
        o.put("trajectories_per_s", rate(now, 60_000));
        o.put("complete", complete);
        o.put("records_consumed", recordsConsumed);
        o.put("groups_queued", groupsQueued);
        ArrayNode en = o.putArray("stages_ended");
        for (String[] e : ended) {
            en.addObject().put("stage", e[0]).put("steps", Long.parseLong(e[1])).put("ended_by", e[2]);
        }
        if (evaluating != null) {
            o.put("evaluating", evaluating);
        }
        if (correction != null) {
            ObjectNode m = o.putObject("off_policy");
            m.put("correction", correction);
            writeMismatch(m.putObject("last_step"), lastMismatch);
            writeMismatch(m.putObject("stage"), stageMismatch);
        }
        long[] lat = latenciesMs.stream().mapToLong(Long::longValue).sorted().toArray();
        ObjectNode l = o.putObject("agent_to_trainer_ms");
        l.put("count", lat.length);
        if (lat.length > 0) {
            l.put("p50", StageLatencies.percentile(lat, 0.50));
            l.put("p99", StageLatencies.percentile(lat, 0.99));
            l.put("max", lat[lat.length - 1]);
        }
        byStage.write(o.putObject("agent_to_trainer_by_stage"));
        training.write(o.putObject("training_by_stage"));
        long[] stl = staleness.stream().mapToLong(Long::longValue).sorted().toArray();
        ObjectNode s = o.putObject("staleness");
        s.put("count", stl.length);
        if (stl.length > 0) {
            s.put("mean", Arrays.stream(stl).average().orElse(0));
            s.put("max", stl[stl.length - 1]);
        }
        ObjectNode d = o.putObject("dropped");
        dropped.forEach(d::put);
        ArrayNode vs = o.putArray("policy_versions");
        for (VersionPoint p : versions) {
            p.write(vs.addObject());
        }
        return o;
    }

    private double rate(long now, long windowMs) {
        long n = 0;
        long first = now;
        for (long[] t : trainedAt) {
            if (t[0] >= now - windowMs) {
                n += t[1];
                first = Math.min(first, t[0]);
            }
        }
        double span = Math.max(1_000, Math.min(windowMs, now - Math.min(first, now - 1)));
        return n == 0 ? 0 : n * 1000.0 / span;
    }

    private static void writeMismatch(ObjectNode o, PolicyMismatch m) {
        o.put("tokens", m.tokens());
        o.put("sequences", m.sequences());
        putNumber(o, "token_kl", m.tokenKl());
        putNumber(o, "sequence_kl", m.sequenceKl());
        putNumber(o, "token_k1", m.tokenK1());
        putNumber(o, "truncated_fraction", m.truncatedFraction());
        putNumber(o, "masked_fraction", m.maskedFraction());
    }

    private static void putNumber(ObjectNode o, String name, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(name);
        } else {
            o.put(name, v);
        }
    }
}
