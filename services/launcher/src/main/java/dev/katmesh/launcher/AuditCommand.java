package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.audit.CaptureAudit;
import dev.katmesh.launcher.audit.FeedbackAudit;
import dev.katmesh.launcher.audit.LineageAudit;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.MeshService;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./katmesh audit}: every trajectory id from published to trained, reconciled from the durable
 * records (see {@link LineageAudit}). Exit 0 when nothing is lost, trained twice or scored twice; 1
 * otherwise; 2 when the records cannot be read (the broker is down).
 */
@Command(
        name = "audit",
        description = "Reconciles captured requests (each in one assembled trajectory), published (raw), scored, "
                + "dead-lettered and trained (the learner's ledger) trajectory ids: prints counts, lost ids and "
                + "ids trained or scored twice; exit 1 if any.")
public final class AuditCommand implements Callable<Integer> {

    static final String RAW = Topics.RAW;
    static final String ROLLOUT = Topics.ROLLOUT;
    /** The topics trajectories are published to: deployed agents' and the rollout service's. */
    static final List<String> PUBLISHED = List.of(RAW, ROLLOUT);

    static final String SCORED = Topics.SCORED;
    static final String DLQ = Topics.DLQ;
    /** Every request inference served and every session end (the reward assembles them into raw trajectories). */
    static final String CAPTURE = Topics.CAPTURE;
    /** The header the reward names a dead-letter record's reason with (its RejectReason). */
    static final String REJECT_REASON = RecordHeaders.REJECT_REASON;

    @CommandLine.Mixin
    Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

    @Option(names = "--json", description = "Print one JSON object (default: indented).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        MeshSupervisor supervisor = mesh.supervisor();
        ObjectNode result;
        try {
            result = audit(supervisor);
        } catch (IllegalStateException e) {
            System.err.println("audit: " + e.getMessage());
            return 2;
        }
        System.out.println(json ? result.toString() : Katmesh.pretty(result));
        return result.path("ok").asBoolean() ? 0 : 1;
    }

    /** Reads the records of the mesh in {@code supervisor}'s data directory and reconciles them. */
    public static ObjectNode audit(MeshSupervisor supervisor) throws Exception {
        JsonNode status = supervisor.status();
        if (!status.path("kafka").path("health").asText().equals("UP")) {
            throw new IllegalStateException("the broker of "
                    + status.path("data_dir").asText() + " is not running (./katmesh up, or restart kafka)");
        }
        KafkaClients kafka = supervisor.kafkaClients();
        // Order matters for a live mesh: committed offsets first, then the ledger, then the topics to their
        // ends, so every record a committed offset covers has its outcome in what is read after it.
        Map<String, Long> rewardCommitted = new HashMap<>();
        Map<Integer, Long> learnerCommitted;
        Map<Integer, Long> captureCommitted;
        Map<String, Long> feedbackCommitted = new HashMap<>();
        List<String> senders; // the feedback intake topics, one per sender
        System.err.println("audit: committed offsets of katmesh-reward and katmesh-learner");
        try (Admin admin = kafka.admin()) {
            for (String topic : PUBLISHED) {
                committed(admin, "katmesh-reward", topic)
                        .forEach((partition, offset) -> rewardCommitted.put(topic + "-" + partition, offset));
            }
            learnerCommitted = committed(admin, "katmesh-learner", SCORED);
            captureCommitted = committed(admin, "katmesh-reward-capture", CAPTURE);
            senders = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(t -> FeedbackSenders.senderOf(t) != null)
                    .sorted()
                    .toList();
            for (String topic : senders) {
                committed(admin, "katmesh-reward-feedback", topic)
                        .forEach((partition, offset) -> feedbackCommitted.put(topic + "-" + partition, offset));
            }
        }
        System.err.println("audit: the learner's ledger");
        List<LineageAudit.LedgerEntry> ledger = ledger(supervisor, status);
        List<CaptureAudit.Captured> captured = new ArrayList<>();
        read(kafka, CAPTURE, r -> captured(r)).forEach(c -> {
            if (c != null) {
                captured.add(c);
            }
        });
        List<LineageAudit.Raw> raw = new ArrayList<>();
        Map<String, List<String>> named = new HashMap<>(); // assembled sessions: trajectory id -> requests it names
        for (String topic : PUBLISHED) {
            raw.addAll(read(kafka, topic, r -> {
                Trajectory t = protobuf(r);
                if (t != null && t.getCapturedRequestIdsCount() > 0) {
                    named.put(t.getTrajectoryId(), t.getCapturedRequestIdsList());
                }
                return new LineageAudit.Raw(r.topic(), r.partition(), r.offset(), rawId(r));
            }));
        }
        List<FeedbackSenders.Position> feedback = new ArrayList<>();
        for (String topic : senders) {
            feedback.addAll(read(kafka, topic, r -> FeedbackSenders.Position.of(r.topic(), r.partition(), r.offset())));
        }
        // Before the scored and dead-letter topics: what the join releases meanwhile is then found there.
        Map<String, String> join = new HashMap<>(); // live entries of the join: key -> its state header
        for (ConsumerRecord<byte[], byte[]> r : read(kafka, Topics.FEEDBACK_JOIN, r -> r)) {
            String key = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
            if (key != null && r.value() == null) {
                join.remove(key);
            } else if (key != null) {
                join.put(key, String.valueOf(header(r, "katmesh-join-state")));
            }
        }
        Set<String> held = new HashSet<>();
        Set<String> heldFeedback = new HashSet<>();
        join.forEach((key, state) -> {
            if (key.startsWith("t/") && state.equals("held")) {
                held.add(key.substring(2));
            } else if (key.startsWith("f/")) {
                heldFeedback.add(key.substring(2));
            }
        });
        Set<String> joined = new HashSet<>();
        List<LineageAudit.Scored> scored = read(kafka, SCORED, r -> {
            String applied = header(r, RecordHeaders.FEEDBACK);
            if (applied != null) {
                joined.addAll(List.of(applied.split(",")));
            }
            return new LineageAudit.Scored(
                    r.partition(), r.offset(), scoredId(r), (int) number(header(r, RecordHeaders.REVISION), 0));
        });
        List<LineageAudit.DeadLetter> dlq = read(
                kafka,
                DLQ,
                r -> new LineageAudit.DeadLetter(
                        header(r, "dead-letter-topic") != null ? header(r, "dead-letter-topic") : RAW,
                        (int) number(header(r, "dead-letter-partition"), -1),
                        number(header(r, "dead-letter-offset"), -1),
                        header(r, REJECT_REASON) != null ? header(r, REJECT_REASON) : header(r, "dead-letter-reason")));
        ObjectNode result = LineageAudit.reconcile(raw, scored, dlq, ledger, rewardCommitted, learnerCommitted, held);
        Map<String, String> feedbackDead = new HashMap<>();
        dlq.stream()
                .filter(d -> FeedbackSenders.senderOf(d.rawTopic()) != null)
                .forEach(d -> feedbackDead.put(
                        FeedbackSenders.Position.of(d.rawTopic(), d.rawPartition(), d.rawOffset())
                                .toString(),
                        d.reason()));
        ObjectNode feedbackAccount =
                FeedbackAudit.reconcile(feedback, joined, feedbackDead, heldFeedback, feedbackCommitted);
        result.set("feedback", feedbackAccount);
        result.put("ledger_versions", ledger == null ? 0 : ledger.size());
        ObjectNode capture = CaptureAudit.reconcile(captured, named, captureCommitted);
        result.set("capture", capture);
        result.put(
                "ok",
                result.path("ok").asBoolean()
                        && capture.path("ok").asBoolean()
                        && feedbackAccount.path("ok").asBoolean());
        return result;
    }

    /** A request record of the capture log (null for a session's end, or a record that is not an event). */
    private static CaptureAudit.Captured captured(ConsumerRecord<byte[], byte[]> r) {
        try {
            CaptureEvent e = CaptureEvent.parseFrom(r.value());
            return e.hasRequest()
                    ? new CaptureAudit.Captured(
                            r.partition(), r.offset(), e.getRequest().getRequestId())
                    : null;
        } catch (Exception e) {
            return null;
        }
    }

    /** A raw record's trajectory when it is protobuf (as assembled sessions are), else null. */
    private static Trajectory protobuf(ConsumerRecord<byte[], byte[]> r) {
        String type = header(r, RecordHeaders.CONTENT_TYPE);
        try {
            return r.value() != null && type != null && type.contains("protobuf")
                    ? Trajectory.parseFrom(r.value())
                    : null;
        } catch (Exception e) {
            return null;
        }
    }

    private static Map<Integer, Long> committed(Admin admin, String group, String topic) throws Exception {
        Map<Integer, Long> out = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata()
                .get(30, TimeUnit.SECONDS);
        offsets.forEach((tp, o) -> {
            if (tp.topic().equals(topic) && o != null) {
                out.put(tp.partition(), o.offset());
            }
        });
        return out;
    }

    /** The learner's ledger: from the running learner, else from its file (the learner may be down after an incident). */
    private static List<LineageAudit.LedgerEntry> ledger(MeshSupervisor supervisor, JsonNode status) throws Exception {
        JsonNode learner = status.path("services").path("learner");
        if (learner.path("health").asText().equals("UP")) {
            HttpResponse<String> r = MeshHttp.client(Duration.ofSeconds(5))
                    .send(
                            HttpRequest.newBuilder(
                                            URI.create(learner.path("http").asText() + "/katmesh/ledger"))
                                    .timeout(Duration.ofSeconds(30))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException("the learner answered " + r.statusCode() + " for its ledger");
            }
            return r.body().isBlank() ? null : LineageAudit.parseLedger(r.body());
        }
        Path file = supervisor
                .layout()
                .serviceDataDir(MeshService.LEARNER)
                .resolve("checkpoints")
                .resolve("ledger.jsonl");
        return Files.isRegularFile(file)
                ? LineageAudit.parseLedger(Files.readString(file, StandardCharsets.UTF_8))
                : null;
    }

    /** Every record of a topic, from the beginning to the end offsets as they are now. */
    public static <T> List<T> read(KafkaClients kafka, String topic, Function<ConsumerRecord<byte[], byte[]>, T> map) {
        Properties p = kafka.properties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"); // as the learner reads: no aborted releases
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 * 1024 * 1024 + 4096));
        List<T> out = new ArrayList<>();
        System.err.println("audit: reading " + topic);
        try (KafkaConsumer<byte[], byte[]> c =
                new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(topic, i.partition()))
                    .toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp, Duration.ofSeconds(30)) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    StringBuilder behind = new StringBuilder();
                    for (TopicPartition tp : parts) {
                        long at = c.position(tp, Duration.ofSeconds(30));
                        if (at < end.get(tp)) {
                            behind.append(' ')
                                    .append(tp.partition())
                                    .append(':')
                                    .append(at)
                                    .append('/')
                                    .append(end.get(tp));
                        }
                    }
                    throw new IllegalStateException("reading " + topic
                            + " to its end took over 2 minutes (partition:position/end" + behind + ")");
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (r.offset() < end.get(new TopicPartition(topic, r.partition()))) {
                        out.add(map.apply(r));
                    }
                }
            }
        }
        return out;
    }

    /** The trajectory id a raw record carries, as the reward reads it (protobuf or JSON), or null. */
    static String rawId(ConsumerRecord<byte[], byte[]> r) {
        if (r.value() == null) {
            return null;
        }
        String type = header(r, RecordHeaders.CONTENT_TYPE);
        try {
            if (type != null && type.contains("protobuf")) {
                String id = Trajectory.parseFrom(r.value()).getTrajectoryId();
                return id.isEmpty() ? null : id;
            }
            String id = TrajectoryJson.parse(r.value()).trajectory().getTrajectoryId();
            return id.isEmpty() ? null : id;
        } catch (Exception e) {
            return null;
        }
    }

    private static String scoredId(ConsumerRecord<byte[], byte[]> r) {
        String id = header(r, RecordHeaders.TRAJECTORY_ID);
        if (id != null) {
            return id;
        }
        try {
            return ScoredTrajectory.parseFrom(r.value()).getTrajectory().getTrajectoryId();
        } catch (Exception e) {
            return "scored-" + r.partition() + "@" + r.offset();
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static long number(String s, long otherwise) {
        try {
            return s == null ? otherwise : Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }
}
