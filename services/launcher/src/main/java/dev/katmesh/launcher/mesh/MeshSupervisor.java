package dev.katmesh.launcher.mesh;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.Uuid;

/**
 * Brings a mesh up and down: the embedded Kafka broker first (then the topics of kafka-topics/), then
 * the four services as separate JVMs pointed at it; down in the reverse order. Every change of the
 * processes is recorded in {@link MeshState} under a file lock, so concurrent launchers (an `up`
 * beside a `restart`) cannot interleave.
 */
public final class MeshSupervisor {

    static final Duration SERVICE_GRACE = Duration.ofSeconds(20);
    static final Duration KAFKA_GRACE = Duration.ofSeconds(30);

    private final MeshLayout layout;
    private final PrintStream out;

    public MeshSupervisor(MeshLayout layout, PrintStream out) {
        this.layout = layout;
        this.out = out;
        Path ca = MeshTls.of(layout).ca();
        if (Files.isRegularFile(ca)) {
            MeshHttp.trust(ca); // a secure mesh's services serve HTTPS
        }
    }

    public MeshLayout layout() {
        return layout;
    }

    /**
     * Starts whatever part of the mesh is not running and waits until everything is healthy. Ports
     * chosen at the first start are kept for later ones. On failure, stops what this call started.
     */
    public MeshState up(Duration timeout) throws IOException, InterruptedException {
        return up(timeout, (Path) null);
    }

    /**
     * As {@link #up(Duration)}; {@code model} (a Hugging Face checkpoint folder) becomes the policy the
     * learner starts from and inference serves, kept in mesh.json for later starts.
     */
    public MeshState up(Duration timeout, Path model) throws IOException, InterruptedException {
        return up(timeout, model, Map.of());
    }

    /**
     * As {@link #up(Duration, Path)}, with settings per service (service id → system properties) that
     * replace the ones kept from earlier starts for the services named.
     */
    public MeshState up(Duration timeout, Path model, Map<String, Map<String, String>> settings)
            throws IOException, InterruptedException {
        return up(timeout, model, settings, Map.of());
    }

    /**
     * As {@link #up(Duration, Path, Map)}, with the processes named ("kafka" or a service id) pinned to
     * CPUs (taskset lists; see {@link MeshState#cpus}), replacing the pinning kept for them.
     */
    public MeshState up(
            Duration timeout, Path model, Map<String, Map<String, String>> settings, Map<String, String> cpus)
            throws IOException, InterruptedException {
        return up(timeout, model, settings, cpus, false);
    }

    /**
     * As {@link #up(Duration, Path, Map, Map)}; {@code secure} turns on secure mode ({@link KafkaAccess}:
     * SASL/SCRAM and ACLs on the broker) for a new mesh. The mode is chosen at the first start and kept:
     * a mesh started plaintext cannot be made secure in place (its broker was formatted without users).
     */
    public MeshState up(
            Duration timeout,
            Path model,
            Map<String, Map<String, String>> settings,
            Map<String, String> cpus,
            boolean secure)
            throws IOException, InterruptedException {
        return up(timeout, new Start(model, settings, cpus, secure, Map.of()));
    }

    /**
     * What an {@code up} asks for beyond the defaults; each part replaces what earlier starts kept for the
     * processes it names.
     *
     * @param model a Hugging Face checkpoint folder: the policy the learner starts from and inference serves
     *     (null: keep the one chosen earlier, or none)
     * @param settings system properties per service id
     * @param cpus taskset lists per process ("kafka", a service id for all its instances, or an instance id)
     * @param secure secure mode for a new mesh ({@link KafkaAccess})
     * @param instances instances per scalable service id ({@link MeshService#scalable()}); fewer than
     *     running stops the surplus, newest first
     * @param feedbackSenders feedback senders and the agent-id globs each may rate ({@link FeedbackSenderScopes})
     */
    public record Start(
            Path model,
            Map<String, Map<String, String>> settings,
            Map<String, String> cpus,
            boolean secure,
            Map<String, Integer> instances,
            Map<String, String> feedbackSenders) {

        public Start(
                Path model,
                Map<String, Map<String, String>> settings,
                Map<String, String> cpus,
                boolean secure,
                Map<String, Integer> instances) {
            this(model, settings, cpus, secure, instances, Map.of());
        }

        /** The most instances of one service the launcher starts on one machine. */
        static final int MAX_INSTANCES = 8;

        void validate() {
            for (Map.Entry<String, String> e : cpus.entrySet()) {
                if (!e.getKey().equals("kafka")) {
                    ServiceInstance.parse(e.getKey());
                }
                ManagedProcess.cpuCount(e.getValue());
            }
            instances.forEach((id, n) -> {
                MeshService s = MeshService.of(id);
                if (!s.scalable() && n != 1) {
                    throw new IllegalArgumentException(
                            id + " runs as one instance; rollout and reward run several (--instances reward=2)");
                }
                if (n < 1 || n > MAX_INSTANCES) {
                    throw new IllegalArgumentException(
                            "--instances " + id + "=" + n + ": between 1 and " + MAX_INSTANCES);
                }
            });
            feedbackSenders.forEach(FeedbackSenderScopes::check);
            if (model != null && !Files.isRegularFile(model.resolve("config.json"))) {
                throw new IllegalArgumentException(model + " is not a checkpoint folder (no config.json)");
            }
        }
    }

    /** Starts the mesh as {@link #up(Duration, Path, Map, Map, boolean)} with everything a {@link Start} names. */
    public MeshState up(Duration timeout, Start start) throws IOException, InterruptedException {
        checkBuilt();
        start.validate();
        Path model = start.model();
        boolean secure = start.secure();
        return locked(() -> {
            MeshState state = MeshState.load(layout.stateFile());
            if (secure && !state.secure) {
                if (EmbeddedKafka.formatted(layout)) {
                    throw new IllegalStateException(
                            "the mesh in " + layout.dataDir() + " was first started without --secure; secure mode is "
                                    + "chosen at a mesh's first start: use a fresh --data-dir");
                }
                state.secure = true;
            }
            if (state.secure) {
                MeshHttp.trust(MeshTls.ensure(layout).ca());
            }
            if (model != null) {
                state.model = model.toAbsolutePath().normalize().toString();
            }
            start.settings().forEach((service, props) -> state.settings.put(service, new TreeMap<>(props)));
            state.cpus.putAll(start.cpus());
            start.instances().forEach((id, n) -> state.instances.put(id, n));
            state.instances.values().removeIf(n -> n == 1);
            state.feedbackSenders.putAll(start.feedbackSenders());
            List<String> started = new ArrayList<>();
            try {
                retireSurplus(state);
                assignPorts(state);
                state.save(layout.stateFile());
                long deadline = System.nanoTime() + timeout.toNanos();
                if (!ManagedProcess.isAlive(state.kafka)) {
                    out.printf(
                            "starting Kafka (KRaft) on %s, data in %s%n",
                            EmbeddedKafka.bootstrap(state.kafka),
                            layout.dataDir().resolve("kafka"));
                    state.kafka = EmbeddedKafka.start(layout, state);
                    state.save(layout.stateFile());
                    started.add("kafka");
                }
                KafkaClients clients = EmbeddedKafka.clients(layout, state);
                EmbeddedKafka.awaitReady(state.kafka, clients, layout.logFile("kafka"), remaining(deadline));
                try (Admin admin = clients.admin()) {
                    layout.topics()
                            .withFeedbackSenders(state.feedbackSenders.keySet())
                            .ensure(admin);
                    if (state.secure) {
                        KafkaAccess access = KafkaAccess.load(layout);
                        access.ensureUsersAndAcls(admin);
                        access.writeAgentConfig(layout, clients.bootstrap());
                        for (String sender : FeedbackSenderScopes.ownTopics(state.feedbackSenders)) {
                            access.ensureFeedbackSender(admin, layout, clients.bootstrap(), sender);
                        }
                    }
                }
                for (ServiceInstance s : state.instances()) {
                    if (!ManagedProcess.isAlive(state.service(s))) {
                        out.printf("starting %s on %s%n", s.id(), httpBase(state, state.service(s)));
                        startService(state, s);
                        state.save(layout.stateFile());
                        started.add(s.id());
                    }
                }
                for (ServiceInstance s : state.instances()) {
                    awaitHealthy(state, s, deadline);
                }
                ensureWatch(state);
                state.save(layout.stateFile());
                return state;
            } catch (RuntimeException | IOException | InterruptedException e) {
                out.println("start-up failed: " + e.getMessage() + "; stopping what this call started: " + started);
                stopParts(state, started);
                state.save(layout.stateFile());
                throw e;
            }
        });
    }

    /** Stops every service, then the broker. Returns the names of the processes that were running. */
    public List<String> down() throws IOException, InterruptedException {
        return locked(() -> {
            MeshState state = MeshState.load(layout.stateFile());
            if (state.supervisor != null) { // first, so that nothing stopped below is started again
                ManagedProcess.stop(state.supervisor, SERVICE_GRACE);
                state.supervisor.pid = null;
                state.supervisor.startedAtMs = null;
            }
            List<String> running = new ArrayList<>();
            state.services.forEach((id, p) -> {
                if (ManagedProcess.isAlive(p)) {
                    running.add(id);
                }
            });
            if (ManagedProcess.isAlive(state.kafka)) {
                running.add("kafka");
            }
            stopParts(state, running);
            state.save(layout.stateFile());
            return running;
        });
    }

    /** Stops (if running) and starts one process: a service name or "kafka"; waits until it is healthy. */
    public void restart(String name, Duration timeout) throws IOException, InterruptedException {
        restart(name, Map.of(), timeout);
    }

    /**
     * As {@link #restart(String, Duration)}, with {@code settings} (system properties) added to the service's own,
     * kept for its later starts (e.g. another curriculum for the learner).
     */
    public void restart(String name, Map<String, String> settings, Duration timeout)
            throws IOException, InterruptedException {
        ServiceInstance service = name.equals("kafka") ? null : ServiceInstance.parse(name);
        locked(() -> {
            MeshState state = MeshState.load(layout.stateFile());
            if (!settings.isEmpty()) {
                if (service == null) {
                    throw new IllegalArgumentException("the broker takes no settings here");
                }
                state.settings
                        .computeIfAbsent(service.service().id(), k -> new TreeMap<>())
                        .putAll(settings);
            }
            if (state.kafka == null) {
                throw new IllegalStateException("no mesh in " + layout.dataDir() + ": run `./katmesh up` first");
            }
            if (service != null && !state.instances().contains(service)) {
                throw new IllegalArgumentException(name + " is not an instance of this mesh (it runs "
                        + state.instanceCount(service.service()) + " of "
                        + service.service().id()
                        + "; `./katmesh up --instances " + service.service().id() + "=N` changes that)");
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            stopParts(state, List.of(name));
            if (service == null) {
                state.kafka = EmbeddedKafka.start(layout, state);
                state.save(layout.stateFile());
                EmbeddedKafka.awaitReady(
                        state.kafka,
                        EmbeddedKafka.clients(layout, state),
                        layout.logFile("kafka"),
                        remaining(deadline));
            } else {
                startService(state, service);
                state.save(layout.stateFile());
                awaitHealthy(state, service, deadline);
            }
            ensureWatch(state);
            state.save(layout.stateFile());
            return null;
        });
    }

    /**
     * Starts a service again that died without {@code down} (the supervisor's call, {@link ServiceWatch}), counting
     * the restart; nothing when it was stopped or started again meanwhile. A start that fails is logged: the
     * supervisor finds the service dead again and retries later.
     */
    void recover(ServiceInstance s) throws IOException, InterruptedException {
        locked(() -> {
            MeshState state = MeshState.load(layout.stateFile());
            MeshState.Proc p = state.service(s);
            if (p == null || p.pid == null || ManagedProcess.isAlive(p)) {
                return null;
            }
            p.restarts = p.restarts == null ? 1 : p.restarts + 1;
            p.lastCrashAtMs = System.currentTimeMillis();
            out.printf("%s (pid %d) died; restarting it (restart %d)%n", s.id(), p.pid, p.restarts);
            startService(state, s);
            state.save(layout.stateFile());
            try {
                awaitHealthy(state, s, System.nanoTime() + Duration.ofMinutes(4).toNanos());
            } catch (IllegalStateException e) {
                out.println("restart of " + s.id() + " failed: " + e.getMessage());
            }
            return null;
        });
    }

    /** The base URL of an instance's HTTP API: HTTPS on a secure mesh, else plain HTTP. */
    static String httpBase(MeshState state, MeshState.Proc p) {
        return (state.secure ? "https" : "http") + "://127.0.0.1:" + p.port;
    }

    /** Starts the supervisor process if it does not run (the caller holds the lock and saves the state). */
    private void ensureWatch(MeshState state) throws IOException {
        if (!ManagedProcess.isAlive(state.supervisor)) {
            state.supervisor = ServiceWatch.start(layout);
        }
    }

    /** The credential inference presents to the learner's Weights service (kept in secrets/weights-token). */
    public String weightsToken() {
        return Secrets.kept(layout, "weights-token", "kmw-");
    }

    /** The launcher's Kafka clients of this mesh (admin user in secure mode). */
    public KafkaClients kafkaClients() {
        MeshState state = MeshState.load(layout.stateFile());
        if (state.kafka == null) {
            throw new IllegalStateException("no mesh in " + layout.dataDir() + ": run `./katmesh up` first");
        }
        return EmbeddedKafka.clients(layout, state);
    }

    /** The status document of `./katmesh status --json`. */
    public ObjectNode status() {
        MeshState state = MeshState.load(layout.stateFile());
        ObjectNode root = new ObjectMapper().createObjectNode();
        root.put("data_dir", layout.dataDir().toString());
        ObjectNode kafka = root.putObject("kafka");
        if (state.kafka != null) {
            kafka.put("bootstrap", EmbeddedKafka.bootstrap(state.kafka));
            if (state.secure) {
                ObjectNode security = kafka.putObject("security");
                security.put("protocol", KafkaAccess.PROTOCOL);
                security.put("sasl_mechanism", KafkaAccess.MECHANISM);
                security.put("agent_user", KafkaAccess.User.AGENT.name);
                security.put(
                        "agent_config",
                        Secrets.dir(layout).resolve("agent.properties").toString());
                security.put(
                        "agent_json", Secrets.dir(layout).resolve("agent.json").toString());
                security.put("feedback_user", KafkaAccess.User.FEEDBACK.name);
                security.put(
                        "feedback_config",
                        Secrets.dir(layout).resolve("feedback.properties").toString());
                security.put("ca", MeshTls.of(layout).ca().toString());
            }
            boolean alive = ManagedProcess.isAlive(state.kafka);
            kafka.put("health", alive && EmbeddedKafka.portOpen(state.kafka.port) ? "UP" : "DOWN");
            putPid(kafka, state.kafka, alive);
        } else {
            kafka.put("health", "DOWN");
        }
        if (state.secure) {
            // Every listener of a secure mesh (broker, HTTP, gRPC) serves a certificate of this CA.
            root.putObject("tls").put("ca", MeshTls.of(layout).ca().toString());
        }
        ObjectNode services = root.putObject("services");
        for (ServiceInstance s : state.instances()) {
            ObjectNode node = services.putObject(s.id());
            node.put("service", s.service().id());
            node.put("instance", s.ordinal());
            MeshState.Proc p = state.service(s);
            if (p == null) {
                node.put("health", "DOWN");
                continue;
            }
            node.put("http", httpBase(state, p));
            if (p.grpcPort != null) {
                node.put("grpc", "127.0.0.1:" + p.grpcPort);
            }
            if (s.service() == MeshService.INFERENCE) {
                node.put("openai", httpBase(state, p) + "/v1");
            }
            boolean alive = ManagedProcess.isAlive(p);
            node.put("health", alive ? HealthProbe.health(httpBase(state, p)) : "DOWN");
            putPid(node, p, alive);
            node.put("restarts", p.restarts == null ? 0 : p.restarts);
            if (p.lastCrashAtMs != null) {
                node.put("last_crash", Instant.ofEpochMilli(p.lastCrashAtMs).toString());
            }
            node.put("log", layout.logFile(s.id()).toString());
        }
        ObjectNode watch = root.putObject("supervisor");
        boolean watching = ManagedProcess.isAlive(state.supervisor);
        watch.put("health", watching ? "UP" : "DOWN");
        putPid(watch, state.supervisor, watching);
        watch.put("log", layout.logFile("supervisor").toString());
        return root;
    }

    private static void putPid(ObjectNode node, MeshState.Proc p, boolean alive) {
        if (alive) {
            node.put("pid", p.pid);
        } else {
            node.putNull("pid");
        }
    }

    // ------------------------------------------------------------------ internals

    private void checkBuilt() {
        List<String> missing = new ArrayList<>();
        for (MeshService s : MeshService.values()) {
            if (!Files.isRegularFile(layout.serviceJar(s))) {
                missing.add(layout.serviceJar(s).toString());
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("services are not built (run ./katmesh build): missing " + missing);
        }
    }

    private void assignPorts(MeshState state) throws IOException {
        if (state.clusterId == null) {
            state.clusterId = Uuid.randomUuid().toString();
        }
        Set<Integer> taken = new HashSet<>();
        if (state.kafka == null) {
            state.kafka = new MeshState.Proc();
        }
        if (!ManagedProcess.isAlive(state.kafka)) {
            state.kafka.port = keepOrPick(state.kafka.port, taken);
            state.kafka.controllerPort =
                    keepOrPick(state.kafka.controllerPort == null ? 0 : state.kafka.controllerPort, taken);
        }
        for (ServiceInstance s : state.instances()) {
            MeshState.Proc p = state.services.computeIfAbsent(s.id(), k -> new MeshState.Proc());
            if (ManagedProcess.isAlive(p)) {
                continue;
            }
            p.port = keepOrPick(p.port, taken);
            p.grpcPort = s.service().hasGrpc() ? keepOrPick(p.grpcPort == null ? 0 : p.grpcPort, taken) : null;
        }
    }

    /**
     * Stops and forgets the instances beyond the counts now asked for (the caller saves the state). Their
     * partitions move to the instances that stay once the group's session timeout ends (static members do not
     * leave the group on shutdown).
     */
    private void retireSurplus(MeshState state) throws InterruptedException {
        List<String> surplus = new ArrayList<>(state.services.keySet());
        surplus.removeAll(state.instances().stream().map(ServiceInstance::id).toList());
        if (!surplus.isEmpty()) {
            out.println("stopping instances no longer asked for: " + surplus);
            stopParts(state, surplus);
            surplus.forEach(state.services::remove);
        }
    }

    /** Keeps a port recorded earlier if it is still free, else picks a free one. */
    private static int keepOrPick(int port, Set<Integer> taken) throws IOException {
        if (port > 0 && !taken.contains(port) && free(port)) {
            taken.add(port);
            return port;
        }
        for (int attempt = 0; attempt < 50; attempt++) {
            try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                int p = socket.getLocalPort();
                if (taken.add(p)) {
                    return p;
                }
            }
        }
        throw new IOException("no free port found");
    }

    private static boolean free(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private void startService(MeshState state, ServiceInstance instance) throws IOException {
        MeshService s = instance.service();
        MeshState.Proc p = state.service(instance);
        Files.createDirectories(layout.serviceDataDir(instance));
        List<String> cmd = new ArrayList<>(List.of(
                ManagedProcess.javaBinary(),
                "-Xmx" + s.heap(),
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
                "-Dquarkus.http.host=127.0.0.1",
                "-Dai.djl.offline=true",
                "-Dquarkus.http.port=" + p.port,
                "-Dkafka.bootstrap.servers=" + EmbeddedKafka.bootstrap(state.kafka),
                "-Dkatmesh.data-dir=" + layout.serviceDataDir(instance),
                // Static group membership: a restarted instance takes its partitions back at once.
                "-Dkafka.group.instance.id=" + instance.groupInstanceId()));
        if (p.grpcPort != null) {
            cmd.add("-Dquarkus.grpc.server.host=127.0.0.1");
            cmd.add("-Dquarkus.grpc.server.port=" + p.grpcPort);
        }
        Map<String, String> env = new HashMap<>();
        // The embedded mesh shares a few cores between the learner, inference and the sandboxes: PyTorch's
        // OpenMP workers, which spin while waiting for work by default, would burn the cores the other
        // processes need. Sleeping waiters made the quick main job 29% shorter (its held-out evaluations
        // beside rollouts ~6x faster) at the same supervised step time (docs/benchmarks.md).
        if (System.getenv("OMP_WAIT_POLICY") == null) {
            env.put("OMP_WAIT_POLICY", "PASSIVE");
        }
        if (state.secure) {
            // Each service as its own user; the password by environment, off the command line.
            KafkaAccess.load(layout).clientConfig(KafkaAccess.User.of(s)).forEach((k, v) -> {
                if (k.equals("sasl.jaas.config")) {
                    env.put("KAFKA_SASL_JAAS_CONFIG", v);
                } else {
                    cmd.add("-Dkafka." + k + "=" + v);
                }
            });
        }
        if (state.secure) {
            cmd.addAll(MeshTls.of(layout).serviceFlags(s, p.port, p.grpcPort));
        }
        // Only inference may fetch the learner's weights: a token the two share.
        if (s == MeshService.LEARNER) {
            env.put("KATMESH_LEARNER_WEIGHTS_TOKENS", weightsToken());
        }
        if (s == MeshService.INFERENCE) {
            env.put("KATMESH_INFERENCE_WEIGHTS_TOKEN", weightsToken());
        }
        if (state.model != null && (s == MeshService.INFERENCE || s == MeshService.LEARNER)) {
            cmd.add("-Dkatmesh." + s.id() + ".model-dir=" + state.model);
        }
        if (s == MeshService.INFERENCE) {
            MeshState.Proc learner = state.service(MeshService.LEARNER);
            cmd.add("-Dquarkus.grpc.clients.weights.host=127.0.0.1");
            cmd.add("-Dquarkus.grpc.clients.weights.port=" + learner.grpcPort);
            env.put(
                    "KATMESH_INFERENCE_API_KEYS",
                    ApiKey.AGENT + "=" + ApiKey.resolve(layout).key());
        }
        if (s == MeshService.ROLLOUT) {
            MeshState.Proc inference = state.service(MeshService.INFERENCE);
            cmd.add("-Dquarkus.grpc.clients.inference.host=127.0.0.1");
            cmd.add("-Dquarkus.grpc.clients.inference.port=" + inference.grpcPort);
            env.put("KATMESH_ROLLOUT_API_KEY", ApiKey.resolve(layout).key());
        }
        if (s == MeshService.REWARD && !state.feedbackSenders.isEmpty()) {
            cmd.add("-D" + FeedbackSenderScopes.SETTING + "=" + FeedbackSenderScopes.setting(state.feedbackSenders));
        }
        state.settings.getOrDefault(s.id(), Map.of()).forEach((k, v) -> cmd.add("-D" + k + "=" + v));
        String extra = System.getenv("KATMESH_" + s.name() + "_OPTS");
        if (extra != null && !extra.isBlank()) {
            cmd.addAll(List.of(extra.trim().split("\\s+")));
        }
        cmd.add("-jar");
        cmd.add(layout.serviceJar(s).toString());
        MeshState.Proc started = ManagedProcess.start(
                ManagedProcess.pinned(cmd, state.cpus.getOrDefault(instance.id(), state.cpus.get(s.id())), env),
                layout.logFile(instance.id()),
                layout.serviceDataDir(instance),
                env);
        p.pid = started.pid;
        p.startedAtMs = started.startedAtMs;
    }

    private void awaitHealthy(MeshState state, ServiceInstance s, long deadline) throws InterruptedException {
        MeshState.Proc p = state.service(s);
        while (System.nanoTime() < deadline) {
            if (!ManagedProcess.isAlive(p)) {
                throw new IllegalStateException(
                        s.id() + " exited during start-up:\n" + tail(layout.logFile(s.id()), 25));
            }
            if ("UP".equals(HealthProbe.health(httpBase(state, p)))) {
                out.printf("%s is UP%n", s.id());
                return;
            }
            Thread.sleep(300);
        }
        throw new IllegalStateException(
                s.id() + " did not become healthy in time:\n" + tail(layout.logFile(s.id()), 25));
    }

    /** Stops the named parts: service instances in parallel first, then Kafka. */
    private void stopParts(MeshState state, List<String> names) throws InterruptedException {
        List<Thread> stoppers = new ArrayList<>();
        for (Map.Entry<String, MeshState.Proc> e : state.services.entrySet()) {
            String id = e.getKey();
            MeshState.Proc p = e.getValue();
            if (names.contains(id) && p != null) {
                Thread t = new Thread(
                        () -> {
                            if (ManagedProcess.stop(p, SERVICE_GRACE)) {
                                out.printf(
                                        "%s did not stop within %d s and was killed%n", id, SERVICE_GRACE.toSeconds());
                            }
                            p.pid = null;
                            p.startedAtMs = null;
                        },
                        "stop-" + id);
                t.start();
                stoppers.add(t);
            }
        }
        for (Thread t : stoppers) {
            t.join();
        }
        if (names.contains("kafka") && state.kafka != null) {
            if (ManagedProcess.stop(state.kafka, KAFKA_GRACE)) {
                out.printf("kafka did not stop within %d s and was killed%n", KAFKA_GRACE.toSeconds());
            }
            state.kafka.pid = null;
            state.kafka.startedAtMs = null;
        }
    }

    public static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log at " + file + ")";
        }
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }

    private <T> T locked(Callable<T> action) throws IOException, InterruptedException {
        Files.createDirectories(layout.dataDir());
        try (FileChannel channel =
                        FileChannel.open(layout.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = channel.lock()) {
            return action.call();
        } catch (IOException | InterruptedException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }
}
