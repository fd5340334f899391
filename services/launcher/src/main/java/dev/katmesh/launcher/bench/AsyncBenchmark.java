package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.demo.DemoPlan;
import dev.katmesh.launcher.demo.DemoSetup;
import dev.katmesh.launcher.demo.TaskFiles;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.MeshLayout;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.proto.v1.Task;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.KafkaProducer;

/**
 * Asynchronous streaming RL against synchronous RL on the same workload: trajectories trained per
 * minute, generation (inference, rollout, reward, broker) pinned to some CPUs and training (the
 * learner) to others, as they would sit on separate GPUs.
 *
 * <ul>
 *   <li><b>async</b>: staleness bound η = 2; the rollout service always has {@code groups-per-step} groups
 *       to work on, so generation never waits for training;</li>
 *   <li><b>sync</b>: η = 0, and rollout waits for every update: a round feeds {@code groups-per-step}
 *       groups, waits until the reward has scored them all, then until the learner's step is published
 *       and served by inference (or the learner has taken them and needs more groups: dynamic sampling
 *       drops groups without reward variance) before feeding the next.</li>
 * </ul>
 *
 * Both start from the same SFT checkpoint (made first, with the main job's quick curriculum, or given),
 * on fresh meshes, with a version every step. The sync run also measures the ideal bound of the
 * speed-up, (t_gen + t_train) / max(t_gen, t_train), from its own phases: t_gen from feeding a round to
 * its last scored trajectory, t_train from there to the new version served.
 */
public final class AsyncBenchmark {

    /** What to run: CPUs (taskset lists), how long to measure each mode, and an optional SFT checkpoint. */
    public record Options(
            Path dir, String generationCpus, String trainingCpus, Duration window, Duration warmup, Path model) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int GROUPS_PER_STEP = 2;
    private static final int GROUP_SIZE = 4;

    private final HttpClient http = MeshHttp.client(Duration.ofSeconds(5));
    private final Options options;
    private final PrintStream log;

    public AsyncBenchmark(Options options, PrintStream log) {
        this.options = options;
        this.log = log;
    }

    public ObjectNode run() throws Exception {
        DemoPlan plan = DemoPlan.quick();
        DemoSetup.Prepared prepared = DemoSetup.prepare(plan, options.dir().resolve("run"));
        Path model = options.model() != null ? options.model() : supervised(plan, prepared);
        ObjectNode result = JSON.createObjectNode();
        result.put("model", model.toString());
        result.put("generation_cpus", options.generationCpus());
        result.put("training_cpus", options.trainingCpus());
        result.put("window_s", options.window().toSeconds());
        result.put("groups_per_step", GROUPS_PER_STEP);
        result.put("group_size", GROUP_SIZE);
        ObjectNode sync = mode(plan, prepared, model, false);
        ObjectNode async = mode(plan, prepared, model, true);
        result.set("sync", sync);
        result.set("async", async);
        double speedup = async.path("trajectories_per_min").asDouble()
                / sync.path("trajectories_per_min").asDouble();
        double bound = sync.path("ideal_bound").asDouble();
        result.put("speedup", round(speedup));
        result.put("ideal_bound", round(bound));
        result.put("fraction_of_bound", round(speedup / bound));
        return result;
    }

    /** Mid-term LM and SFT on a fresh mesh, with nothing else running; the last checkpoint's model files. */
    private Path supervised(DemoPlan plan, DemoSetup.Prepared prepared) throws Exception {
        Path curriculum = prepared.dir().resolve("supervised.yaml");
        Files.writeString(curriculum, plan.supervisedYaml(), StandardCharsets.UTF_8);
        Map<String, String> learner = new LinkedHashMap<>();
        learner.put("katmesh.learner.curriculum", curriculum.toString());
        learner.put("katmesh.learner.learning-rate", Double.toString(plan.learningRate()));
        learner.put("katmesh.learner.max-tree-tokens", "2048");
        learner.put("katmesh.learner.keep-checkpoints", "1");
        Path dir = options.dir().resolve("sft");
        MeshSupervisor mesh = fresh(dir);
        log.println("bench async: SFT checkpoint (mid-term " + plan.midtermSteps() + " + SFT " + plan.sftSteps()
                + " steps)");
        mesh.up(Duration.ofMinutes(4), prepared.model(), Map.of("learner", learner));
        try {
            String url =
                    mesh.status().path("services").path("learner").path("http").asText();
            long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
            while (!progress(url).path("complete").asBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(
                            "the supervised stages did not finish in 30 min; see " + dir.resolve("logs"));
                }
                Thread.sleep(2000);
            }
        } finally {
            mesh.down();
        }
        Path checkpoint;
        try (Stream<Path> versions = Files.list(dir.resolve("learner").resolve("checkpoints"))) {
            checkpoint = versions.filter(Files::isDirectory)
                    .max(Comparator.comparing(Path::getFileName))
                    .orElseThrow(() -> new IllegalStateException("the supervised run left no checkpoint in " + dir));
        }
        Path out = options.dir().resolve("sft-model");
        Files.createDirectories(out);
        for (String f : List.of(
                "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")) {
            if (Files.exists(checkpoint.resolve(f))) {
                Files.copy(checkpoint.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return out;
    }

    /** One mode on a fresh mesh: warm-up until the first update is served, then the measured window. */
    private ObjectNode mode(DemoPlan plan, DemoSetup.Prepared prepared, Path model, boolean async) throws Exception {
        String name = async ? "async" : "sync";
        Path curriculum = prepared.dir().resolve("rl-" + name + ".yaml");
        Files.writeString(curriculum, String.format(Locale.ROOT, """
                # ./katmesh bench async: one RL stage, a version (hot-swapped into inference) every step.
                stages:
                  - name: rft
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    steps: 1000000
                    learning_rate: %s
                    version_every: 1
                """, plan.rftLearningRate()), StandardCharsets.UTF_8);
        Map<String, Map<String, String>> settings = plan.serviceSettings(curriculum.toString(), "");
        Map<String, String> learner = new LinkedHashMap<>(settings.get("learner"));
        learner.remove("katmesh.learner.eval.tasks"); // no evaluation: it would stop training for its duration
        learner.remove("katmesh.learner.eval.max-turns");
        learner.put("katmesh.learner.max-staleness", async ? "2" : "0");
        learner.put("katmesh.learner.group-size", Integer.toString(GROUP_SIZE));
        learner.put("katmesh.learner.groups-per-step", Integer.toString(GROUPS_PER_STEP));
        Map<String, String> rollout = new LinkedHashMap<>(settings.get("rollout"));
        rollout.put("katmesh.rollout.group-size", Integer.toString(GROUP_SIZE));
        Map<String, String> cpus = new LinkedHashMap<>();
        for (String p : List.of("kafka", "inference", "rollout", "reward")) {
            cpus.put(p, options.generationCpus());
        }
        cpus.put("learner", options.trainingCpus());
        MeshSupervisor mesh = fresh(options.dir().resolve(name));
        log.printf(
                Locale.ROOT,
                "bench async: %s mode (generation on CPUs %s, training on %s)%n",
                name,
                options.generationCpus(),
                options.trainingCpus());
        mesh.up(Duration.ofMinutes(4), model, Map.of("learner", learner, "rollout", rollout), cpus);
        try (KafkaProducer<String, byte[]> tasks = TaskFiles.producer(mesh.kafkaClients())) {
            Mesh m = new Mesh(mesh.status(), tasks, prepared.train());
            return async ? async(m) : sync(m);
        } finally {
            mesh.down();
        }
    }

    /** The mesh's endpoints and the task feed (tasks in the same order in both modes). */
    private final class Mesh {
        final String learner;
        final String rollout;
        final String reward;
        final String inference;
        final KafkaProducer<String, byte[]> producer;
        final List<Task> tasks;
        int fed;

        Mesh(JsonNode status, KafkaProducer<String, byte[]> producer, List<Task> tasks) {
            this.learner = status.path("services").path("learner").path("http").asText();
            this.rollout = status.path("services").path("rollout").path("http").asText();
            this.reward = status.path("services").path("reward").path("http").asText();
            this.inference =
                    status.path("services").path("inference").path("http").asText();
            this.producer = producer;
            this.tasks = tasks;
        }

        void feed(int groups) throws Exception {
            for (int i = 0; i < groups; i++) {
                TaskFiles.send(producer, tasks.get(fed++ % tasks.size()));
            }
            producer.flush();
        }

        double groupsDone() throws Exception {
            return PrometheusScrape.sum(rollout, "katmesh_rollout_groups_total", null);
        }

        /** Raw records the reward is done with: scored, or dead-lettered (a crashed episode may be). */
        double scored() throws Exception {
            return PrometheusScrape.sum(reward, "katmesh_reward_scored_total", null)
                    + PrometheusScrape.sum(reward, "katmesh_reward_rejected_total", null);
        }

        double served() throws Exception {
            return PrometheusScrape.sum(inference, "katmesh_inference_policy_version", null);
        }

        JsonNode progress() throws Exception {
            return AsyncBenchmark.this.progress(learner);
        }
    }

    private ObjectNode async(Mesh m) throws Exception {
        double groupsBefore = m.groupsDone();
        long start = System.nanoTime();
        Window w = null;
        while (w == null || !w.over()) {
            double done = m.groupsDone() - groupsBefore;
            if (m.fed - done < GROUPS_PER_STEP) {
                m.feed(1);
            }
            if (w == null && m.served() >= 1) {
                w = new Window(m.progress(), start);
            }
            checkWarmup(w, start);
            Thread.sleep(100);
        }
        return w.result(m.progress());
    }

    private ObjectNode sync(Mesh m) throws Exception {
        long start = System.nanoTime();
        Window w = null;
        long genNanos = 0;
        long trainNanos = 0;
        int rounds = 0;
        while (w == null || !w.over()) {
            JsonNode before = m.progress();
            long version = before.path("policy_version").asLong();
            long consumedTarget = before.path("records_consumed").asLong() + (long) GROUPS_PER_STEP * GROUP_SIZE;
            double scoredTarget = m.scored() + GROUPS_PER_STEP * GROUP_SIZE;
            long t0 = System.nanoTime();
            m.feed(GROUPS_PER_STEP);
            while (m.scored() < scoredTarget) {
                checkWarmup(w, start);
                checkRound(t0);
                Thread.sleep(50);
            }
            long t1 = System.nanoTime();
            while (true) { // the learner takes the round; then a step is served, or it waits for more groups
                JsonNode p = m.progress();
                if (p.path("records_consumed").asLong() >= consumedTarget) {
                    long v = p.path("policy_version").asLong();
                    if (v == version) {
                        break;
                    }
                    if (m.served() >= v) {
                        break;
                    }
                }
                checkWarmup(w, start);
                checkRound(t0);
                Thread.sleep(50);
            }
            long t2 = System.nanoTime();
            if (w != null) {
                genNanos += t1 - t0;
                trainNanos += t2 - t1;
                rounds++;
            } else if (m.served() >= 1) {
                w = new Window(m.progress(), start);
            }
        }
        ObjectNode r = w.result(m.progress());
        double gen = genNanos / 1e9;
        double train = trainNanos / 1e9;
        r.put("rounds", rounds);
        r.put("t_gen_s", round(gen));
        r.put("t_train_s", round(train));
        long steps = r.path("steps").asLong();
        if (steps > 0) {
            r.put("t_gen_per_step_s", round(gen / steps));
            r.put("t_train_per_step_s", round(train / steps));
        }
        r.put("ideal_bound", round((gen + train) / Math.max(gen, train)));
        return r;
    }

    /** A round of 8 episodes and a step takes a minute or two here; ten means something is stuck. */
    private void checkRound(long roundStart) {
        if (System.nanoTime() - roundStart > Duration.ofMinutes(10).toNanos()) {
            throw new IllegalStateException(
                    "a synchronous round did not finish in 10 min; see the logs in " + options.dir());
        }
    }

    private void checkWarmup(Window w, long start) {
        if (w == null && System.nanoTime() - start > options.warmup().toNanos()) {
            throw new IllegalStateException("no policy update was served within the warm-up of "
                    + options.warmup().toMinutes() + " min; see the logs in " + options.dir());
        }
    }

    /** The measured window: the learner's counters at its start, compared at its end. */
    private final class Window {
        final long startNanos = System.nanoTime();
        final JsonNode first;
        final double warmupS;

        Window(JsonNode first, long runStart) {
            this.first = first;
            this.warmupS = (startNanos - runStart) / 1e9;
        }

        boolean over() {
            return System.nanoTime() - startNanos >= options.window().toNanos();
        }

        ObjectNode result(JsonNode last) {
            double s = (System.nanoTime() - startNanos) / 1e9;
            long trained = last.path("trajectories_trained").asLong()
                    - first.path("trajectories_trained").asLong();
            ObjectNode r = JSON.createObjectNode();
            r.put("warmup_s", round(warmupS));
            r.put("measured_s", round(s));
            r.put("trajectories_trained", trained);
            r.put("trajectories_per_min", round(trained * 60 / s));
            r.put("steps", last.path("step").asLong() - first.path("step").asLong());
            r.put(
                    "versions",
                    last.path("policy_version").asLong()
                            - first.path("policy_version").asLong());
            r.set("staleness", last.path("staleness"));
            ObjectNode dropped = r.putObject("dropped");
            long consumed = trained;
            for (var it = last.path("dropped").fields(); it.hasNext(); ) {
                var e = it.next();
                long n = e.getValue().asLong()
                        - first.path("dropped").path(e.getKey()).asLong();
                dropped.put(e.getKey(), n);
                consumed += n;
            }
            // Generation's throughput beside training's: most groups of a well-trained policy carry no gradient.
            r.put("trajectories_consumed_per_min", round(consumed * 60 / s));
            return r;
        }
    }

    private JsonNode progress(String learnerUrl) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(learnerUrl + "/katmesh/progress"))
                        .timeout(Duration.ofSeconds(10))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(learnerUrl + "/katmesh/progress answered " + r.statusCode());
        }
        return JSON.readTree(r.body());
    }

    /** A supervisor for a mesh in {@code dir}, emptied first (only ever a mesh's own directory). */
    private MeshSupervisor fresh(Path dir) throws Exception {
        MeshSupervisor mesh = new MeshSupervisor(new MeshLayout(MeshLayout.defaultHome(), dir), log);
        if (Files.exists(dir.resolve("mesh.json"))) {
            mesh.down();
        }
        MeshLayout.deleteTree(dir);
        return mesh;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
