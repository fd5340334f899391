package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;

/**
 * The embedded default's Kafka: one real Apache Kafka broker in KRaft mode (broker and controller in
 * one process, no ZooKeeper) from the Maven Central jars, in a JVM of its own, with its log in
 * {@code <data-dir>/kafka/data} so it survives restarts.
 */
public final class EmbeddedKafka {

    private EmbeddedKafka() {}

    static String bootstrap(MeshState.Proc kafka) {
        return "127.0.0.1:" + kafka.port;
    }

    /**
     * The launcher's clients of this mesh's broker: plaintext, or in secure mode the admin user's SASL
     * settings.
     */
    static KafkaClients clients(MeshLayout layout, MeshState state) {
        String bootstrap = bootstrap(state.kafka);
        return state.secure
                ? new KafkaClients(bootstrap, KafkaAccess.load(layout).clientConfig(KafkaAccess.User.ADMIN))
                : KafkaClients.plain(bootstrap);
    }

    /** Whether the broker's storage exists (formatted at its first start). */
    static boolean formatted(MeshLayout layout) {
        return Files.exists(layout.dataDir().resolve("kafka/data/meta.properties"));
    }

    /**
     * Writes server.properties and the logging config, then starts the broker JVM. In secure mode the
     * properties hold the broker's password, so the file is owner-only, and the first start formats the
     * storage with the bootstrap SCRAM users ({@link KafkaAccess}).
     */
    static MeshState.Proc start(MeshLayout layout, MeshState state) throws IOException {
        Path dir = layout.dataDir().resolve("kafka");
        Path logDir = dir.resolve("data");
        Files.createDirectories(logDir);
        Path props = dir.resolve("server.properties");
        KafkaAccess access = state.secure ? KafkaAccess.load(layout) : null;
        Secrets.write(props, serverProperties(state.kafka.port, state.kafka.controllerPort, logDir, access));
        Path log4j = dir.resolve("log4j2.properties");
        Files.writeString(log4j, """
                # Broker logging: INFO for Kafka's own lifecycle, WARN for the chatty request and state logs.
                rootLogger.level = INFO
                rootLogger.appenderRef.stdout.ref = STDOUT
                appender.stdout.type = Console
                appender.stdout.name = STDOUT
                appender.stdout.layout.type = PatternLayout
                appender.stdout.layout.pattern = %d{ISO8601} %-5p [%c{1}] %m%n
                logger.state.name = state.change.logger
                logger.state.level = WARN
                logger.request.name = kafka.request.logger
                logger.request.level = WARN
                logger.log.name = org.apache.kafka.storage
                logger.log.level = WARN
                logger.cleaner.name = kafka.log.LogCleaner
                logger.cleaner.level = WARN
                """);
        Map<String, String> env = new HashMap<>();
        if (access != null) {
            env.put(BrokerMain.SCRAM_ENV, String.join("\n", access.bootstrapScram()));
        }
        List<String> cmd = ManagedProcess.pinned(
                List.of(
                        ManagedProcess.javaBinary(),
                        "-Xms256m",
                        "-Xmx" + System.getProperty("katmesh.kafka.heap", "768m"),
                        "-XX:+UseG1GC",
                        "-Djava.awt.headless=true",
                        "-Dlog4j2.configurationFile=" + log4j,
                        "-cp",
                        layout.launcherClasspath(),
                        BrokerMain.class.getName(),
                        props.toString(),
                        state.clusterId,
                        logDir.toString()),
                state.cpus.get("kafka"),
                env);
        MeshState.Proc started = ManagedProcess.start(cmd, layout.logFile("kafka"), layout.dataDir(), env);
        started.port = state.kafka.port;
        started.controllerPort = state.kafka.controllerPort;
        return started;
    }

    /** server.properties; {@code access} null for the plaintext default, else secure mode's listeners and ACLs. */
    static String serverProperties(int port, int controllerPort, Path logDir, KafkaAccess access) {
        String listeners = access != null
                ? access.serverProperties(port, controllerPort)
                : String.join(
                        "\n",
                        "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                        "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
                        "inter.broker.listener.name=PLAINTEXT",
                        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        return String.join(
                "\n",
                "# Written by the katmesh launcher at every start; edit kafka-topics/ for topic settings.",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "controller.listener.names=CONTROLLER",
                listeners,
                "log.dirs=" + logDir,
                // Topics come from kafka-topics/ only: a typo in a topic name fails instead of creating one.
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                // A single-node broker has no reason to delay the first consumer group rebalance.
                "group.initial.rebalance.delay.ms=0",
                // Same ceiling as the trajectory topics, for records with several MB.
                "message.max.bytes=16777216",
                "replica.fetch.max.bytes=16777216",
                "");
    }

    /** Waits until the broker answers an admin request; fails early if its process died. */
    static void awaitReady(MeshState.Proc kafka, KafkaClients clients, Path log, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!ManagedProcess.isAlive(kafka)) {
                throw new IllegalStateException("the Kafka broker exited during start-up; see " + log);
            }
            if (portOpen(kafka.port)) {
                try (Admin admin = clients.admin()) {
                    admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                    return;
                } catch (ExecutionException | TimeoutException e) {
                    // not ready yet
                }
            }
            Thread.sleep(250);
        }
        throw new IllegalStateException(
                "the Kafka broker did not become ready within " + timeout.toSeconds() + " s; see " + log);
    }

    static boolean portOpen(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
