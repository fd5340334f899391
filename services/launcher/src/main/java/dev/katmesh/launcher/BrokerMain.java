package dev.katmesh.launcher;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Main class of the embedded broker's JVM: formats the KRaft storage on first start (never again, so
 * the data survives restarts), then runs Apache Kafka itself ({@code kafka.Kafka}) until SIGTERM.
 *
 * <p>Arguments: {@code <server.properties> <cluster-id> <log-dir>}.
 */
public final class BrokerMain {

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
            int rc = kafka.tools.StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", properties}, out);
            if (rc != 0) {
                System.err.println("formatting the KRaft storage in " + logDir + " failed with code " + rc);
                System.exit(rc);
            }
        }
        kafka.Kafka.main(new String[] {properties});
    }
}
