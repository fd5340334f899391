package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.mesh.ApiKey;
import dev.katmesh.launcher.mesh.MeshLayout;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.launcher.mesh.ServiceInstance;
import dev.katmesh.launcher.mesh.ServiceWatch;
import dev.katmesh.launcher.mesh.TopicSpec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The {@code ./katmesh} command line. */
@Command(
        name = "katmesh",
        mixinStandardHelpOptions = true,
        version = "katmesh 0.1.0",
        description = "Online training of coding agents from their trajectories: the embedded mesh and its tools.",
        subcommands = {
            Katmesh.Up.class,
            Katmesh.Status.class,
            Katmesh.Down.class,
            Katmesh.Logs.class,
            Katmesh.Restart.class,
            Katmesh.Supervise.class,
            Katmesh.Topics.class,
            DemoCommand.class,
            PolicyCommand.class,
            BenchCommand.class,
            SandboxCommand.class,
            TasksCommand.class,
            AuditCommand.class,
            ExportCommand.class,
            ReplayCommand.class
        })
public final class Katmesh {

    public static void main(String[] args) {
        CommandLine cli = new CommandLine(new Katmesh());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("katmesh: " + e.getMessage());
            return 1;
        });
        System.exit(cli.execute(args));
    }

    /** Options every mesh command shares. */
    static class MeshOptions {
        @Option(
                names = "--data-dir",
                paramLabel = "DIR",
                description =
                        "The mesh's data directory (state, Kafka data, logs). Default: $KATMESH_DATA_DIR or <checkout>/.katmesh.")
        Path dataDir;

        MeshSupervisor supervisor() {
            Path home = MeshLayout.defaultHome();
            return new MeshSupervisor(
                    new MeshLayout(home, dataDir != null ? dataDir : MeshLayout.defaultDataDir(home)), System.out);
        }
    }

    @Command(name = "up", description = "Starts the embedded mesh: a Kafka broker (KRaft) and the four services.")
    static final class Up implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Option(names = "--detach", description = "Return once every service is healthy, leaving the mesh running.")
        boolean detach;

        @Option(
                names = "--timeout",
                paramLabel = "SECONDS",
                defaultValue = "240",
                description = "How long to wait for health (default ${DEFAULT-VALUE}).")
        int timeout;

        @Option(
                names = "--model",
                paramLabel = "DIR",
                description =
                        "A Hugging Face checkpoint folder: the policy the learner trains and inference serves (kept for later starts).")
        Path model;

        @Option(
                names = "--cpus",
                paramLabel = "PROCESS=CPUS",
                description =
                        "Pin a process (kafka, inference, rollout, reward or learner, or one instance such as reward-2) to CPUs "
                                + "with taskset, e.g. --cpus learner=1 --cpus inference=0; repeatable, kept for later starts.")
        Map<String, String> cpus = new LinkedHashMap<>();

        @Option(
                names = "--instances",
                paramLabel = "SERVICE=N",
                description = "Run N instances of rollout or reward, named reward, reward-2, ...: Kafka shares the "
                        + "partitions of their consumer group among them. Repeatable, kept for later starts; a smaller "
                        + "N stops the surplus.")
        Map<String, Integer> instances = new LinkedHashMap<>();

        @Option(
                names = "--secure",
                description =
                        "Secure mode, chosen at a mesh's first start and kept: every listener speaks TLS only (the broker, "
                                + "each service's HTTP and gRPC), with certificates of the mesh's own CA "
                                + "(<data-dir>/secrets/ca.pem), and the broker takes only SASL/SCRAM-SHA-512 users with "
                                + "ACLs (each service its own; deployed agents the user 'katmesh-agent', "
                                + "which may only write katmesh.trajectories.raw).")
        boolean secure;

        @Option(
                names = "--feedback-sender",
                paramLabel = "NAME=AGENTS",
                description = "A sender of late feedback and the agent ids whose sessions it may rate (comma-separated "
                        + "globs), e.g. --feedback-sender ci-team-a=team-a-*: it writes to katmesh.feedback.from.NAME "
                        + "(in secure mode as the user katmesh-feedback-NAME, settings in secrets/feedback-NAME.*). "
                        + "NAME shared is katmesh.feedback (default: every agent). Repeatable, kept for later starts; "
                        + "a running reward takes a change at its restart.")
        Map<String, String> feedbackSenders = new LinkedHashMap<>();

        @Override
        public Integer call() throws Exception {
            MeshSupervisor supervisor = mesh.supervisor();
            ApiKey key = ApiKey.resolve(supervisor.layout());
            supervisor.up(
                    Duration.ofSeconds(timeout),
                    new MeshSupervisor.Start(model, Map.of(), cpus, secure, instances, feedbackSenders));
            ObjectNode status = supervisor.status();
            System.out.println(pretty(status));
            System.out.printf(
                    "OpenAI-compatible API: %s  (API key %s: %s)%n",
                    status.path("services").path("inference").path("openai").asText(), key.origin(), key.key());
            if (status.path("kafka").has("security")) {
                System.out.printf(
                        "Kafka: SASL_SSL, SCRAM-SHA-512; agents' client settings (write katmesh.trajectories.raw only): %s%n",
                        status.path("kafka")
                                .path("security")
                                .path("agent_config")
                                .asText());
                System.out.printf(
                        "TLS everywhere: clients trust the mesh's CA %s (Node: NODE_EXTRA_CA_CERTS, curl: --cacert)%n",
                        status.path("tls").path("ca").asText());
            }
            if (detach) {
                System.out.println("mesh running; `./katmesh down` stops it");
                return 0;
            }
            System.out.println("mesh running; Ctrl-C stops it");
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(
                    () -> {
                        try {
                            System.out.println("stopping: " + supervisor.down());
                        } catch (Exception e) {
                            System.err.println("katmesh: stopping failed: " + e.getMessage());
                        } finally {
                            stopped.countDown();
                        }
                    },
                    "katmesh-down");
            Runtime.getRuntime().addShutdownHook(hook);
            stopped.await();
            return 0;
        }
    }

    @Command(name = "status", description = "Shows the broker and each service with its endpoints and health.")
    static final class Status implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Option(names = "--json", description = "Print one JSON object.")
        boolean json;

        @Override
        public Integer call() {
            ObjectNode status = mesh.supervisor().status();
            if (json) {
                System.out.println(status.toString());
                return 0;
            }
            JsonNode kafka = status.get("kafka");
            System.out.printf(
                    "%-10s %-5s %-8s %s%n",
                    "kafka",
                    kafka.path("health").asText(),
                    kafka.path("pid").asText("-"),
                    kafka.path("bootstrap").asText("-"));
            status.get("services").fields().forEachRemaining(e -> {
                JsonNode s = e.getValue();
                System.out.printf(
                        "%-10s %-5s %-8s %s %s%s%n",
                        e.getKey(),
                        s.path("health").asText(),
                        s.path("pid").asText("-"),
                        s.path("http").asText("-"),
                        s.has("grpc") ? "grpc " + s.get("grpc").asText() : "",
                        s.path("restarts").asInt() > 0
                                ? "  restarts=" + s.path("restarts").asInt() + " (last crash "
                                        + s.path("last_crash").asText() + ")"
                                : "");
            });
            JsonNode watch = status.path("supervisor");
            System.out.printf(
                    "%-10s %-5s %-8s restarts crashed services%n",
                    "supervisor",
                    watch.path("health").asText(),
                    watch.path("pid").asText("-"));
            return 0;
        }
    }

    @Command(name = "down", description = "Stops the services, then the broker; the data directory is kept.")
    static final class Down implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Override
        public Integer call() throws Exception {
            List<String> stopped = mesh.supervisor().down();
            System.out.println(stopped.isEmpty() ? "nothing was running" : "stopped " + String.join(", ", stopped));
            return 0;
        }
    }

    @Command(
            name = "restart",
            description = "Starts one stopped or killed process again (stopping it first if it runs).")
    static final class Restart implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Parameters(
                paramLabel = "SERVICE",
                description = "inference, rollout, reward, learner, kafka or an instance such as reward-2")
        String service;

        @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "180")
        int timeout;

        @Override
        public Integer call() throws Exception {
            mesh.supervisor().restart(service, Duration.ofSeconds(timeout));
            System.out.println(service + " restarted");
            return 0;
        }
    }

    @Command(
            name = "supervise",
            hidden = true,
            description = "The mesh's supervisor process (started by up, stopped by down): restarts crashed services.")
    static final class Supervise implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Override
        public Integer call() throws Exception {
            ServiceWatch.run(mesh.supervisor());
            return 0;
        }
    }

    @Command(
            name = "logs",
            description = "Prints a process's log (inference, rollout, reward, learner, kafka or supervisor).")
    static final class Logs implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Parameters(paramLabel = "SERVICE")
        String service;

        @Option(
                names = {"-f", "--follow"},
                description = "Keep printing what is appended.")
        boolean follow;

        @Option(
                names = {"-n", "--lines"},
                paramLabel = "N",
                description = "Only the last N lines.")
        Integer lines;

        @Override
        public Integer call() throws Exception {
            if (!service.equals("kafka") && !service.equals("supervisor")) {
                ServiceInstance.parse(service);
            }
            Path log = mesh.supervisor().layout().logFile(service);
            if (!Files.exists(log)) {
                System.err.println("katmesh: no log for " + service + " at " + log);
                return 1;
            }
            if (lines != null) {
                System.out.println(MeshSupervisor.tail(log, lines));
            } else if (!follow) {
                Files.copy(log, System.out);
            }
            if (follow) {
                try (RandomAccessFile file = new RandomAccessFile(log.toFile(), "r")) {
                    file.seek(lines != null ? file.length() : 0);
                    byte[] buf = new byte[8192];
                    while (true) {
                        int n = file.read(buf);
                        if (n > 0) {
                            System.out.print(new String(buf, 0, n, StandardCharsets.UTF_8));
                            System.out.flush();
                        } else {
                            Thread.sleep(250);
                        }
                    }
                }
            }
            return 0;
        }
    }

    @Command(name = "topics", description = "Lists the topics declared in kafka-topics/ with their settings.")
    static final class Topics implements Callable<Integer> {
        @CommandLine.Mixin
        MeshOptions mesh = new MeshOptions();

        @Override
        public Integer call() throws IOException {
            for (TopicSpec t : mesh.supervisor().layout().topics().topics()) {
                System.out.printf(
                        "%-30s partitions=%-3d replicas=%d %s%n", t.name(), t.partitions(), t.replicas(), t.config());
            }
            return 0;
        }
    }

    static String pretty(JsonNode node) throws IOException {
        return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(node);
    }
}
