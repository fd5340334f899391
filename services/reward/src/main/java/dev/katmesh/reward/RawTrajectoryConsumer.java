package dev.katmesh.reward;

import dev.katmesh.proto.v1.ScoredTrajectory;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.io.IOException;
import java.time.Duration;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.reward.score.MultiGroundTruthReward;
import dev.katmesh.reward.score.RewardWeights;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.tasks.TaskTests;
import io.micrometer.core.instrument.Timer;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.jboss.logging.Logger;

/**
 * Reads katmesh.trajectories.raw, scores each valid record with the multi-ground-truth reward
 * (against its task from katmesh.tasks when it has one), publishes one ScoredTrajectory per trajectory
 * id to katmesh.trajectories.scored, and dead-letters the rest with their reason.
 *
 * <p>A raw record is acknowledged (so its offset may be committed) only after the broker acknowledged
 * its scored record or its dead-letter record: a crash in between replays it, never loses it.
 */
@ApplicationScoped
public class RawTrajectoryConsumer {

    /** Header naming the {@link RejectReason} on a dead-letter record. */
    public static final String REJECT_REASON_HEADER = "katmesh-reject-reason";

    private static final Logger LOG = Logger.getLogger(RawTrajectoryConsumer.class);

    private final RawTrajectoryDecoder decoder;
    private final MultiGroundTruthReward reward;
    private final TaskStore tasks;
    private final Duration taskWait;
    private final SeenTrajectories seen;
    private final MutinyEmitter<byte[]> scored;
    private final MeterRegistry registry;
    private final Counter scoredCounter;
    private final Counter ignoredFields;
    private final Counter duplicates;
    private final Timer scoring;

    @Inject
    public RawTrajectoryConsumer(
            @Channel("trajectories-scored") MutinyEmitter<byte[]> scored,
            MeterRegistry registry,
            TaskStore tasks,
            // Largest raw record accepted; keep it at or below the topic's max.message.bytes.
            @ConfigProperty(name = "katmesh.reward.max-record-bytes", defaultValue = "8388608") int maxRecordBytes,
            // Token ids must be below the policy's vocabulary size.
            @ConfigProperty(name = "katmesh.reward.vocab-size", defaultValue = "4294967296") long vocabSize,
            // How long a trajectory waits for its task to arrive on katmesh.tasks before it is scored without it.
            @ConfigProperty(name = "katmesh.reward.task-wait", defaultValue = "10s") Duration taskWait,
            // Trajectory ids remembered for deduplication.
            @ConfigProperty(name = "katmesh.reward.dedupe-capacity", defaultValue = "100000") int dedupeCapacity,
            @ConfigProperty(name = "katmesh.reward.weight.tests", defaultValue = "1.0") double wTests,
            @ConfigProperty(name = "katmesh.reward.weight.similarity", defaultValue = "0.2") double wSimilarity,
            @ConfigProperty(name = "katmesh.reward.weight.format", defaultValue = "0.5") double wFormat,
            @ConfigProperty(name = "katmesh.reward.weight.feedback", defaultValue = "0.5") double wFeedback) {
        this.scored = scored;
        this.registry = registry;
        this.tasks = tasks;
        this.taskWait = taskWait;
        this.seen = new SeenTrajectories(dedupeCapacity);
        this.decoder = new RawTrajectoryDecoder(maxRecordBytes, vocabSize);
        this.reward = new MultiGroundTruthReward(new TaskTests(new BubblewrapSandbox()), new RewardWeights(wTests, wSimilarity, wFormat, wFeedback));
        this.duplicates = Counter.builder("katmesh.reward.duplicates")
                .description("Trajectories seen before (redelivered or republished): acknowledged, not scored again")
                .register(registry);
        this.scoring = Timer.builder("katmesh.reward.scoring").description("Time to score a trajectory, sandbox runs included")
                .register(registry);
        this.scoredCounter = Counter.builder("katmesh.reward.scored")
                .description("Trajectories scored and published to katmesh.trajectories.scored")
                .register(registry);
        this.ignoredFields = Counter.builder("katmesh.reward.ignored.agent.fields")
                .description("Reward, mask and advantage fields set by agents: ignored, never trusted")
                .register(registry);
    }

    @Incoming("trajectories-raw")
    public Uni<Void> onRaw(Message<byte[]> raw) {
        // Scoring runs tests in the sandbox: off the event loop, on the worker pool.
        return Uni.createFrom().item(() -> decodeAndScore(raw))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool())
                .chain(outcome -> outcome.publish(raw));
    }

    /** What to do with a record: publish a score, dead-letter it, or acknowledge a duplicate. */
    private interface Outcome {
        Uni<Void> publish(Message<byte[]> raw);
    }

    private Outcome decodeAndScore(Message<byte[]> raw) {
        RawTrajectoryDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(raw.getPayload(), header(raw, "content-type"));
        } catch (RejectedTrajectoryException e) {
            return r -> reject(r, e);
        } catch (RuntimeException e) {
            LOG.errorf(e, "unexpected failure decoding a raw trajectory at %s", position(raw));
            return r -> reject(r, new RejectedTrajectoryException(RejectReason.INTERNAL, String.valueOf(e)));
        }
        String id = decoded.trajectory().getTrajectoryId();
        if (seen.contains(id)) {
            duplicates.increment();
            return r -> Uni.createFrom().completionStage(r.ack());
        }
        ScoredTrajectory result;
        long start = System.nanoTime();
        try {
            String taskId = decoded.trajectory().getTaskId();
            Task task = taskId.isEmpty() ? null : tasks.await(taskId, taskWait).orElse(null);
            result = reward.score(decoded.trajectory(), task, decoded.ignoredAgentFields().size(), System.currentTimeMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return r -> Uni.createFrom().completionStage(r.nack(e));
        } catch (IOException | RuntimeException e) {
            LOG.errorf(e, "scoring failed for %s at %s", id, position(raw));
            return r -> reject(r, new RejectedTrajectoryException(RejectReason.INTERNAL, "scoring failed: " + e));
        } finally {
            scoring.record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
        ignoredFields.increment(decoded.ignoredAgentFields().size());
        return r -> {
            OutgoingKafkaRecordMetadata<String> out = OutgoingKafkaRecordMetadata.<String>builder()
                    .withKey(result.getTrajectory().getGroupId())
                    .withHeaders(new RecordHeaders()
                            .add("content-type", RawTrajectoryDecoder.PROTOBUF.getBytes(StandardCharsets.UTF_8))
                            .add("katmesh-trajectory-id", id.getBytes(StandardCharsets.UTF_8)))
                    .build();
            return scored.sendMessage(Message.of(result.toByteArray(), Metadata.of(out)))
                    .invoke(() -> {
                        scoredCounter.increment();
                        seen.add(id);
                    })
                    .chain(() -> Uni.createFrom().completionStage(r.ack()));
        };
    }

    private Uni<Void> reject(Message<byte[]> raw, RejectedTrajectoryException e) {
        LOG.warnf("dead-lettering the record at %s: %s", position(raw), e.getMessage());
        registry.counter("katmesh.reward.rejected", "reason", e.reason().name()).increment();
        OutgoingKafkaRecordMetadata<?> dlq = OutgoingKafkaRecordMetadata.builder()
                .withHeaders(new RecordHeaders().add(REJECT_REASON_HEADER, e.reason().name().getBytes(StandardCharsets.UTF_8)))
                .build();
        return Uni.createFrom().completionStage(raw.nack(e, Metadata.of(dlq)));
    }

    private static String header(Message<byte[]> raw, String name) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> m.getHeaders().lastHeader(name))
                .map(Header::value)
                .map(v -> new String(v, StandardCharsets.UTF_8))
                .orElse(null);
    }

    private static String position(Message<byte[]> raw) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> m.getTopic() + "-" + m.getPartition() + "@" + m.getOffset())
                .orElse("?");
    }
}
