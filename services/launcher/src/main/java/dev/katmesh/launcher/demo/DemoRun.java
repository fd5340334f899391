package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.bench.Measurements;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.DifficultySampler;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * Drives the main job while the learner works through the curriculum: shows its progress live, keeps
 * the rollout service supplied with tasks during RFT, plays the deployed agents during deployment
 * adaptation, and records the series the report plots. It ends when the learner reports the curriculum
 * complete (or the time limit passes).
 *
 * <p>It only talks to the mesh as its users do: tasks to katmesh.tasks, scored rollouts read from
 * katmesh.trajectories.scored (to choose the next tasks), the learner's progress and metrics over HTTP,
 * the deployed agents through the OpenAI-compatible API.
 */
public final class DemoRun {

    /** How the run ended, and what was recorded. */
    public record Outcome(
            boolean complete,
            String why,
            List<ObjectNode> series,
            JsonNode finalProgress,
            int rolloutTasks,
            int deployedSessions,
            int deployedSubmitted,
            double wallSeconds,
            Map<String, String> rftTaskFamilies,
            Map<String, Long> peakResidentBytes,
            ObjectNode rolloutCosts) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The least weight of a task family in RFT's supply (see {@link DifficultySampler}); about one group in 20 each. */
    static final double SAMPLER_FLOOR = 0.05;

    private final HttpClient http = MeshHttp.client(Duration.ofSeconds(5));
    private final DemoPlan plan;
    private final DemoSetup.Prepared prepared;
    private final KafkaClients kafka;
    private final JsonNode services;
    private final String learner;
    private final String rollout;
    private final String openAi;
    private final String apiKey;
    private final PrintStream out;

    public DemoRun(
            DemoPlan plan,
            DemoSetup.Prepared prepared,
            JsonNode status,
            KafkaClients kafka,
            String apiKey,
            PrintStream out) {
        this.plan = plan;
        this.prepared = prepared;
        this.kafka = kafka;
        this.services = status.path("services");
        this.learner = status.path("services").path("learner").path("http").asText();
        this.rollout = status.path("services").path("rollout").path("http").asText();
        this.openAi = status.path("services").path("inference").path("http").asText();
        this.apiKey = apiKey;
        this.out = out;
    }

    private DifficultySampler<Task> newSampler() {
        return new DifficultySampler<>(byFamily(prepared.train()), plan.groupSize(), SAMPLER_FLOOR, plan.seed());
    }

    public Outcome run(Duration limit) throws Exception {
        long start = System.nanoTime();
        long deadline = start + limit.toNanos();
        List<ObjectNode> series = new ArrayList<>();
        AtomicBoolean stopAgents = new AtomicBoolean();
        AtomicInteger sessions = new AtomicInteger();
        AtomicInteger submitted = new AtomicInteger();
        ExecutorService agents = null;
        int published = 0;
        double groupsBefore = PrometheusScrape.sum(rollout, "katmesh_rollout_groups_total", null);
        String lastLine = "";
        long lastPrint = 0;
        JsonNode progress = JSON.createObjectNode();
        // RFT's task supply: families (the suite's templates) drawn by their chance of a group with reward variance,
        // learnt from the rollout episodes the reward scores.
        // Each RFT stage (an arm of a comparison too) starts with a sampler of its own: arms see alike supplies.
        AtomicReference<DifficultySampler<Task>> sampler = new AtomicReference<>(newSampler());
        String supplying = null; // the RFT stage the sampler serves
        Map<String, String> familyOf = new HashMap<>();
        RolloutCosts costs = new RolloutCosts();
        prepared.train().forEach(t -> familyOf.put(t.getTaskId(), family(t)));
        try (KafkaProducer<String, byte[]> tasks = TaskFiles.producer(kafka);
                ScoredWatcher watcher = new ScoredWatcher(kafka, s -> {
                    if (s.getTrajectory().getSource() == TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT) {
                        costs.record(s);
                        sampler.get()
                                .record(
                                        familyOf.getOrDefault(s.getTrajectory().getTaskId(), ""),
                                        ScoredWatcher.solved(s));
                    }
                })) {
            // The deployed agents' tasks: copies of training tasks on a split the rollout service skips,
            // published now so the reward knows their tests when the captured sessions arrive.
            List<Task> deployedTasks = new ArrayList<>();
            for (Task t : prepared.train()) {
                Task d = t.toBuilder()
                        .setTaskId(t.getTaskId() + "-deployed")
                        .setSplit("deployed")
                        .build();
                TaskFiles.send(tasks, d);
                deployedTasks.add(d);
            }
            while (true) {
                double t = (System.nanoTime() - start) / 1e9;
                progress = fetchProgress();
                if (progress == null) {
                    progress = JSON.createObjectNode();
                }
                String stage = progress.path("stage").asText("starting");
                // Groups keep coming while the learner evaluates a version: the evaluation runs beside training on a
                // copy of the weights, and training goes on (it once paused supply: rollouts slowed the evaluation).
                if (DemoPlan.isRft(stage) && !progress.path("complete").asBoolean()) {
                    if (supplying != null && !supplying.equals(stage)) {
                        sampler.set(newSampler());
                    }
                    supplying = stage;
                    double done = PrometheusScrape.sum(rollout, "katmesh_rollout_groups_total", null) - groupsBefore;
                    while (published - done < plan.outstandingGroups()) {
                        TaskFiles.send(tasks, sampler.get().next());
                        published++;
                    }
                }
                if (stage.equals("adapt") && agents == null) {
                    agents = startAgents(deployedTasks, stopAgents, sessions, submitted);
                }
                if ((stage.equals("adapt")
                                && progress.has("stage_steps")
                                && progress.path("stage_step").asLong()
                                        >= progress.path("stage_steps").asLong())
                        || (agents != null && !stage.equals("adapt"))) {
                    // The stage has what it needs, or is over (a poll can miss its last step: the tree-budget replays
                    // follow at once, and sessions arriving then would reach some replays and not others).
                    stopAgents.set(true); // leave the CPU to the last evaluations
                }
                series.add(point(t, progress, sessions.get()));
                String line = line(t, progress, published, sessions.get(), submitted.get());
                String key = line.substring(line.indexOf(']') + 1);
                if (!key.equals(lastLine) && System.nanoTime() - lastPrint > 4_000_000_000L
                        || progress.path("complete").asBoolean()) {
                    out.println(line);
                    lastLine = key;
                    lastPrint = System.nanoTime();
                }
                boolean complete = progress.path("complete").asBoolean();
                String failure = complete ? null : learnerFailure();
                if (complete || failure != null || System.nanoTime() > deadline) {
                    return new Outcome(
                            complete,
                            complete
                                    ? "the curriculum is complete"
                                    : failure != null
                                            ? "the learner's training loop stopped in stage " + stage + ": " + failure
                                            : "the time limit of " + limit.toMinutes() + " min passed in stage "
                                                    + stage,
                            series,
                            progress,
                            published,
                            sessions.get(),
                            submitted.get(),
                            t,
                            sampler.get().summary(),
                            peakResident(),
                            costs.summary(JSON, DemoPlan.SUPERVISION_PATIENCE, DemoPlan.SUPERVISION_GRACE_TURNS));
                }
                Thread.sleep(2000);
            }
        } finally {
            stopAgents.set(true);
            if (agents != null) {
                agents.shutdown();
                agents.awaitTermination(3, TimeUnit.MINUTES);
            }
        }
    }

    /** {@link DemoPlan#DEPLOYED_AGENTS} deployed agents working the tasks round-robin through the OpenAI-compatible API until stopped. */
    private ExecutorService startAgents(
            List<Task> tasks, AtomicBoolean stop, AtomicInteger sessions, AtomicInteger submitted) {
        ExecutorService pool = Executors.newFixedThreadPool(DemoPlan.DEPLOYED_AGENTS, r -> {
            Thread th = new Thread(r, "deployed-agent");
            th.setDaemon(true);
            return th;
        });
        AgentTools tools = new AgentTools(new BubblewrapSandbox(), Duration.ofSeconds(20));
        DeployedAgent agent =
                new DeployedAgent(openAi, apiKey, tools, plan.episodes().maxNewTokens(), 0.7, plan.samplesPerTurn());
        AtomicInteger next = new AtomicInteger();
        for (int a = 0; a < DemoPlan.DEPLOYED_AGENTS; a++) {
            pool.submit(() -> {
                while (!stop.get()) {
                    int i = next.getAndIncrement();
                    Task task = tasks.get(i % tasks.size());
                    try {
                        DeployedAgent.Session s = agent.work(
                                task, "demo-agent-" + i, plan.episodes().maxTurns() + 2, plan.seed() * 7919 + i);
                        sessions.incrementAndGet();
                        if (s.submitted()) {
                            submitted.incrementAndGet();
                        }
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        if (stop.get()) {
                            return; // cut off by the end of the run, not a failure of the session
                        }
                        out.println("deployed agent: session " + i + " failed: " + e.getMessage());
                        try {
                            Thread.sleep(2000);
                        } catch (InterruptedException ie) {
                            return;
                        }
                    }
                }
            });
        }
        return pool;
    }

    /** Each service's peak resident set so far, by name (Linux; absent where unknown). */
    private Map<String, Long> peakResident() {
        Map<String, Long> peaks = new TreeMap<>();
        services.fields().forEachRemaining(e -> {
            long bytes = e.getValue().path("pid").isNumber()
                    ? Measurements.Memory.residentPeakBytes(
                            e.getValue().path("pid").asLong())
                    : 0;
            if (bytes > 0) {
                peaks.put(e.getKey(), bytes);
            }
        });
        return peaks;
    }

    static String family(Task t) {
        return t.getTagsOrDefault("template", "");
    }

    static Map<String, List<Task>> byFamily(List<Task> tasks) {
        Map<String, List<Task>> out = new TreeMap<>();
        tasks.forEach(
                t -> out.computeIfAbsent(family(t), k -> new ArrayList<>()).add(t));
        return out;
    }

    /** Why the learner's training loop stopped (its health check's failure), or null while it runs or is unknown. */
    private String learnerFailure() {
        JsonNode health = learnerJson("/q/health", false); // DOWN is a 503 with the checks in its body
        for (JsonNode check : health == null ? JSON.createArrayNode() : health.path("checks")) {
            if (check.path("data").has("failure")) {
                return check.path("data").path("failure").asText();
            }
        }
        return null;
    }

    private JsonNode fetchProgress() {
        return learnerJson("/katmesh/progress", true);
    }

    /** The learner's JSON at {@code path}, or null while it is busy starting or restarting (the next poll tells). */
    private JsonNode learnerJson(String path, boolean only200) {
        try {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(learner + path))
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return only200 && r.statusCode() != 200 ? null : JSON.readTree(r.body());
        } catch (Exception e) {
            return null;
        }
    }

    private static ObjectNode point(double t, JsonNode p, int sessions) {
        ObjectNode o = JSON.createObjectNode();
        o.put("t_s", Math.round(t * 10) / 10.0);
        o.put("stage", p.path("stage").asText(""));
        o.put("step", p.path("step").asLong());
        o.put("policy_version", p.path("policy_version").asLong(-1));
        o.set("loss", p.path("loss").isNumber() ? p.get("loss") : null);
        o.set("reward_mean", p.path("reward_mean").isNumber() ? p.get("reward_mean") : null);
        o.put("trajectories_trained", p.path("trajectories_trained").asLong());
        o.put("trajectories_per_s", p.path("trajectories_per_s").asDouble());
        JsonNode lat = p.path("agent_to_trainer_ms");
        if (lat.has("p50")) {
            o.put("agent_to_trainer_p50_ms", lat.get("p50").asLong());
            o.put("agent_to_trainer_p99_ms", lat.get("p99").asLong());
        }
        if (p.path("staleness").has("mean")) {
            o.put("staleness_mean", p.path("staleness").get("mean").asDouble());
        }
        o.put("deployed_sessions", sessions);
        return o;
    }

    private static String line(double t, JsonNode p, int tasks, int sessions, int submitted) {
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "[%2d:%02d] ", (int) t / 60, (int) t % 60));
        String stage = p.path("stage").asText("starting");
        b.append(String.format(Locale.ROOT, "%-8s", stage));
        b.append(String.format(Locale.ROOT, " step %4d", p.path("stage_step").asLong()));
        if (p.has("stage_steps")) {
            b.append('/').append(p.get("stage_steps").asLong());
        }
        b.append(String.format(Locale.ROOT, " · v%d", p.path("policy_version").asLong()));
        if (p.path("loss").isNumber()) {
            b.append(String.format(Locale.ROOT, " · loss %.3f", p.get("loss").asDouble()));
        }
        if (p.path("reward_mean").isNumber()) {
            b.append(String.format(
                    Locale.ROOT, " · reward %.2f", p.get("reward_mean").asDouble()));
        }
        JsonNode versions = p.path("policy_versions");
        for (int i = versions.size() - 1; i >= 0; i--) {
            if (versions.get(i).path("heldout_pass_rate").isNumber()) {
                JsonNode v = versions.get(i);
                b.append(String.format(
                        Locale.ROOT,
                        " · held-out %.2f (v%d, %d/%d)",
                        v.get("heldout_pass_rate").asDouble(),
                        v.path("version").asLong(),
                        v.path("heldout_passed").asInt(),
                        v.path("heldout_total").asInt()));
                break;
            }
        }
        b.append(String.format(
                Locale.ROOT, " · %.1f traj/s", p.path("trajectories_per_s").asDouble()));
        if (p.path("staleness").has("mean")) {
            b.append(String.format(
                    Locale.ROOT,
                    " · staleness %.1f",
                    p.path("staleness").get("mean").asDouble()));
        }
        if (p.path("agent_to_trainer_ms").has("p50")) {
            b.append(String.format(
                    Locale.ROOT,
                    " · agent→trainer p50 %.1fs",
                    p.path("agent_to_trainer_ms").get("p50").asLong() / 1000.0));
        }
        if (DemoPlan.isRft(stage)) {
            b.append(" · tasks sent ").append(tasks);
        }
        if (sessions > 0 || stage.equals("adapt")) {
            b.append(" · deployed sessions ")
                    .append(sessions)
                    .append(" (")
                    .append(submitted)
                    .append(" submitted)");
        }
        if (p.has("evaluating")) {
            b.append(" · evaluating ").append(p.get("evaluating").asText());
        }
        return b.toString();
    }
}
