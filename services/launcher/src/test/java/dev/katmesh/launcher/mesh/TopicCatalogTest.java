package dev.katmesh.launcher.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class TopicCatalogTest {

    private static final Path TOPICS_DIR = Path.of("../../kafka-topics");

    @Test
    void theClasspathCopyMatchesKafkaTopicsDirectory() throws Exception {
        List<String> files;
        try (Stream<Path> s = Files.list(TOPICS_DIR)) {
            files = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml"))
                    .sorted()
                    .toList();
        }
        assertEquals(
                TopicCatalog.FILES.stream().sorted().toList(),
                files,
                "TopicCatalog.FILES must list every file of kafka-topics/");
        assertEquals(
                TopicCatalog.fromDirectory(TOPICS_DIR).topics(),
                TopicCatalog.fromClasspath().topics());
    }

    @Test
    void declaresTheTopicsOfTheDesign() {
        TopicCatalog catalog = TopicCatalog.fromDirectory(TOPICS_DIR);
        assertEquals(
                List.of(
                        "katmesh.capture.requests",
                        "katmesh.feedback",
                        "katmesh.feedback.join",
                        "katmesh.policy.versions",
                        "katmesh.tasks",
                        "katmesh.trajectories.dlq",
                        "katmesh.trajectories.raw",
                        "katmesh.trajectories.rollout",
                        "katmesh.trajectories.scored"),
                catalog.topics().stream().map(TopicSpec::name).toList());
        assertEquals(
                "compact", catalog.topic("katmesh.policy.versions").config().get("cleanup.policy"));
        for (String t : List.of(
                "katmesh.capture.requests",
                "katmesh.trajectories.raw",
                "katmesh.trajectories.rollout",
                "katmesh.trajectories.scored",
                "katmesh.trajectories.dlq")) {
            int maxBytes = Integer.parseInt(catalog.topic(t).config().get("max.message.bytes"));
            assertTrue(maxBytes >= 8 << 20, t + " must take trajectories of several MB, has " + maxBytes);
        }
    }

    @Test
    void aSingleBrokerGetsOneReplicaAndAnIsrItCanMeet() {
        TopicSpec spec = new TopicSpec("t", 6, 3, Map.of("min.insync.replicas", "2", "retention.ms", "5"));
        TopicSpec one = spec.forCluster(1);
        assertEquals(1, one.replicas());
        assertEquals("1", one.config().get("min.insync.replicas"));
        assertEquals("5", one.config().get("retention.ms"));
        assertEquals(spec, spec.forCluster(5), "a large cluster keeps the declared values");
    }

    @Test
    void refusesAFileThatIsNotAKafkaTopic() {
        String yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> TopicCatalog.parse(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)), "x.yaml"));
        assertTrue(e.getMessage().contains("x.yaml") && e.getMessage().contains("KafkaTopic"), e.getMessage());
    }
}
