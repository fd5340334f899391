package dev.katmesh.launcher.mesh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.Topics;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The topics of katmesh, read from the Strimzi {@code KafkaTopic} files of kafka-topics/ — the one
 * source that the Helm chart, the launcher and the tests share.
 */
public final class TopicCatalog {

    /** Classpath folder where the build copies kafka-topics/ (see the launcher's pom). */
    static final String RESOURCE_DIR = "kafka-topics/";
    /** The topic files, by name; kept in step with kafka-topics/ by TopicCatalogTest. */
    static final List<String> FILES = List.of(
            "katmesh.capture.requests.yaml",
            "katmesh.tasks.yaml",
            "katmesh.trajectories.raw.yaml",
            "katmesh.trajectories.rollout.yaml",
            "katmesh.trajectories.scored.yaml",
            "katmesh.trajectories.dlq.yaml",
            "katmesh.policy.versions.yaml",
            "katmesh.feedback.yaml",
            "katmesh.feedback.join.yaml");

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final List<TopicSpec> topics;

    private TopicCatalog(List<TopicSpec> topics) {
        this.topics = List.copyOf(topics);
    }

    public List<TopicSpec> topics() {
        return topics;
    }

    public TopicSpec topic(String name) {
        return topics.stream()
                .filter(t -> t.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no topic " + name + " in kafka-topics/"));
    }

    /**
     * This catalog with the own topics of feedback senders ({@code up --feedback-sender}, {@link FeedbackSenders}):
     * each declared as katmesh.feedback is.
     */
    public TopicCatalog withFeedbackSenders(Collection<String> senders) {
        TopicSpec shared = topic(Topics.FEEDBACK);
        List<TopicSpec> all = new ArrayList<>(topics);
        senders.stream()
                .filter(s -> !s.equals(FeedbackSenders.SHARED))
                .map(s -> new TopicSpec(
                        FeedbackSenders.topic(s), shared.partitions(), shared.replicas(), shared.config()))
                .forEach(all::add);
        return new TopicCatalog(all);
    }

    /** Reads every *.yaml file of a kafka-topics/ directory. */
    public static TopicCatalog fromDirectory(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            List<TopicSpec> specs = new ArrayList<>();
            for (Path f :
                    files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                try (InputStream in = Files.newInputStream(f)) {
                    specs.add(parse(in, f.toString()));
                }
            }
            specs.sort(Comparator.comparing(TopicSpec::name));
            return new TopicCatalog(specs);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read topics from " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Reads the copy of kafka-topics/ that the build puts on the classpath. */
    public static TopicCatalog fromClasspath() {
        List<TopicSpec> specs = new ArrayList<>();
        for (String file : FILES) {
            try (InputStream in = TopicCatalog.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + file)) {
                if (in == null) {
                    throw new IllegalStateException(
                            "missing resource " + RESOURCE_DIR + file + " (is the launcher built?)");
                }
                specs.add(parse(in, file));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        specs.sort(Comparator.comparing(TopicSpec::name));
        return new TopicCatalog(specs);
    }

    static TopicSpec parse(InputStream in, String source) throws IOException {
        JsonNode doc = YAML.readTree(in);
        require(doc != null && "KafkaTopic".equals(doc.path("kind").asText()), source, "kind must be KafkaTopic");
        require(
                doc.path("apiVersion").asText().startsWith("kafka.strimzi.io/"),
                source,
                "apiVersion must be kafka.strimzi.io/*");
        String name = doc.path("metadata").path("name").asText();
        require(!name.isBlank(), source, "metadata.name is required");
        JsonNode spec = doc.path("spec");
        int partitions = spec.path("partitions").asInt(0);
        int replicas = spec.path("replicas").asInt(0);
        require(partitions > 0, source, "spec.partitions must be a positive integer");
        require(replicas > 0, source, "spec.replicas must be a positive integer");
        Map<String, String> config = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = spec.path("config").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            config.put(e.getKey(), e.getValue().asText());
        }
        return new TopicSpec(name, partitions, replicas, config);
    }

    private static void require(boolean ok, String source, String message) {
        if (!ok) {
            throw new IllegalArgumentException(source + ": " + message);
        }
    }

    /**
     * Creates the missing topics and sets the declared configs on existing ones (partitions are only
     * ever added, never removed). Idempotent: the launcher runs it at every {@code up}.
     */
    public void ensure(Admin admin) throws InterruptedException {
        try {
            int brokers = admin.describeCluster().nodes().get().size();
            Set<String> existing = admin.listTopics().names().get();
            List<TopicSpec> specs =
                    topics.stream().map(t -> t.forCluster(brokers)).toList();
            List<NewTopic> missing = specs.stream()
                    .filter(t -> !existing.contains(t.name()))
                    .map(t -> new NewTopic(t.name(), t.partitions(), (short) t.replicas()).configs(t.config()))
                    .toList();
            if (!missing.isEmpty()) {
                try {
                    admin.createTopics(missing).all().get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            Map<ConfigResource, Collection<AlterConfigOp>> updates = specs.stream()
                    .filter(t -> existing.contains(t.name()))
                    .collect(Collectors.toMap(
                            t -> new ConfigResource(ConfigResource.Type.TOPIC, t.name()),
                            t -> t.config().entrySet().stream()
                                    .map(e -> new AlterConfigOp(
                                            new ConfigEntry(e.getKey(), e.getValue()), AlterConfigOp.OpType.SET))
                                    .toList()));
            if (!updates.isEmpty()) {
                admin.incrementalAlterConfigs(updates).all().get();
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException(
                    "cannot create the katmesh topics: " + e.getCause().getMessage(), e.getCause());
        }
    }
}
