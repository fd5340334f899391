package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where things are: the katmesh checkout ({@code home}: service builds, kafka-topics/) and a mesh's
 * data directory (state, Kafka data, logs, checkpoints). Two meshes with different data directories
 * run side by side.
 */
public record MeshLayout(Path home, Path dataDir) {

    public MeshLayout {
        home = home.toAbsolutePath().normalize();
        dataDir = dataDir.toAbsolutePath().normalize();
    }

    /**
     * The checkout: system property {@code katmesh.home} (set by ./katmesh), else {@code KATMESH_HOME},
     * else the current directory.
     */
    public static Path defaultHome() {
        String home = System.getProperty("katmesh.home", System.getenv("KATMESH_HOME"));
        return Path.of(home == null || home.isBlank() ? "." : home);
    }

    /** The default data directory: {@code KATMESH_DATA_DIR}, else {@code <home>/.katmesh}. */
    public static Path defaultDataDir(Path home) {
        String dir = System.getenv("KATMESH_DATA_DIR");
        return dir == null || dir.isBlank() ? home.resolve(".katmesh") : Path.of(dir);
    }

    public Path stateFile() {
        return dataDir.resolve("mesh.json");
    }

    public Path lockFile() {
        return dataDir.resolve("mesh.lock");
    }

    public Path logFile(String process) {
        return dataDir.resolve("logs").resolve(process + ".log");
    }

    /** A service's runnable build (the Quarkus fast-jar). */
    public Path serviceJar(MeshService service) {
        return home.resolve("services").resolve(service.id()).resolve("target/quarkus-app/quarkus-run.jar");
    }

    /** Where a service keeps its own durable files (checkpoints, ledgers). */
    public Path serviceDataDir(MeshService service) {
        return serviceDataDir(ServiceInstance.first(service));
    }

    /** An instance's own durable files: the service's folder for the first, "reward-2" and so on for the others. */
    public Path serviceDataDir(ServiceInstance instance) {
        return dataDir.resolve(instance.id());
    }

    public Path topicsDir() {
        return home.resolve("kafka-topics");
    }

    /** The topics: from the checkout's kafka-topics/ when present, else the copy in the launcher jar. */
    public TopicCatalog topics() {
        return Files.isDirectory(topicsDir()) ? TopicCatalog.fromDirectory(topicsDir()) : TopicCatalog.fromClasspath();
    }

    /** The classpath of this launcher, which also runs the broker. */
    public String launcherClasspath() {
        return System.getProperty("java.class.path");
    }

    /** Deletes a folder and everything under it (nothing when it does not exist). */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
