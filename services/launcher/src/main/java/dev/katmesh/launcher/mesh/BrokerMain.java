package dev.katmesh.launcher.mesh;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Main class of the embedded broker's JVM: formats the KRaft storage on first start (never again, so
 * the data survives restarts), then runs Apache Kafka itself ({@code kafka.Kafka}) until SIGTERM.
 *
 * <p>Arguments: {@code <server.properties> <cluster-id> <log-dir>}.
 */
public final class BrokerMain {

    /**
     * Environment variable with the SCRAM users to format the storage with (secure mode), one
     * {@code --add-scram} value per line; in the environment so the passwords stay off command lines.
     */
    static final String SCRAM_ENV = "KATMESH_KAFKA_BOOTSTRAP_SCRAM";

    private BrokerMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: BrokerMain <server.properties> <cluster-id> <log-dir>");
            System.exit(2);
        }
        String properties = args[0];
        String clusterId = args[1];
        Path logDir = Path.of(args[2]);
        if (!Files.exists(logDir.resolve("meta.properties"))) {
            PrintStream out = System.out;
            List<String> format = new ArrayList<>(List.of("format", "-t", clusterId, "-c", properties));
            String scram = System.getenv(SCRAM_ENV);
            if (scram != null && !scram.isBlank()) {
                for (String user : scram.split("\n")) {
                    format.add("--add-scram");
                    format.add(user);
                }
            }
            int rc = kafka.tools.StorageTool.execute(format.toArray(String[]::new), out);
            if (rc != 0) {
                System.err.println("formatting the KRaft storage in " + logDir + " failed with code " + rc);
                System.exit(rc);
            }
        }
        kafka.Kafka.main(new String[] {properties});
    }
}
