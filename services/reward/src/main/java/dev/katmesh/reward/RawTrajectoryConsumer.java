package dev.katmesh.reward;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.reward.score.MultiGroundTruthReward;
import dev.katmesh.reward.score.RewardWeights;
import dev.katmesh.sandbox.Sandboxes;
import dev.katmesh.tasks.TaskTests;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.jboss.logging.Logger;

/**
 * Reads katmesh.trajectories.raw (deployed agents) and katmesh.trajectories.rollout (the rollout
 * service) — the topic, not the record, says which source a trajectory is — scores each valid record with the multi-ground-truth reward
 * (against its task from katmesh.tasks when it has one), publishes one ScoredTrajectory per trajectory
 * id to katmesh.trajectories.scored, and dead-letters the rest with their reason. Secrets are redacted from the
 * scored record, or the record is rejected, as its source is configured ({@link SecretGate}).
 *
 * <p>A raw record is acknowledged (so its offset may be committed) only after the broker acknowledged
 * its scored record or its dead-letter record: a crash in between replays it, never loses it. A scoring thread does
 * not wait for that acknowledgement: it hands the outcome to {@link OutcomePublisher} and scores the next, so the
 * producer batches many records a request (as Kafka's own producer does) instead of one acks=all round trip per
 * record and thread.
 */
@ApplicationScoped
public class RawTrajectoryConsumer {

    private static final Logger LOG = Logger.getLogger(RawTrajectoryConsumer.class);

    private final RawTrajectoryDecoder decoder;
    private final MultiGroundTruthReward reward;
    private final TaskStore tasks;
    private final Duration taskWait;
    private final int maxParked;
    private final AtomicInteger parked = new AtomicInteger();
    private final ScoredIds scoredIds;
    private final SecretGate secrets;
    private final OutcomePublisher outcomes;
    private final MeterRegistry registry;
    private final Counter ignoredFields;
    private final Counter duplicates;
    private final Timer scoring;
    private final Slots slots;
    private final ExecutorService pool;
    private final ConcurrentHashMap<String, CompletableFuture<Void>> inFlight = new ConcurrentHashMap<>();

    @Inject
    public RawTrajectoryConsumer(
            OutcomePublisher outcomes,
            MeterRegistry registry,
            TaskStore tasks,
            ScoredIds scoredIds,
            SecretGate secrets,
            // Records scored at once (each may run its task's tests in the sandbox): the pool's size.
            @ConfigProperty(name = "katmesh.reward.scoring-concurrency", defaultValue = "4") int concurrency,
            // Largest raw record accepted; keep it at or below the topic's max.message.bytes.
            @ConfigProperty(name = "katmesh.reward.max-record-bytes", defaultValue = "8388608") int maxRecordBytes,
            // Token ids must be below the policy's vocabulary size.
            @ConfigProperty(name = "katmesh.reward.vocab-size", defaultValue = "4294967296") long vocabSize,
            // How long a trajectory waits for its task to arrive on katmesh.tasks before it is dead-lettered
            // (UNKNOWN_TASK);
            // it waits parked, holding no scoring slot.
            @ConfigProperty(name = "katmesh.reward.task-wait", defaultValue = "10s") Duration taskWait,
            // Records parked waiting for their task at most; past it a record waits on its scoring slot
            // (back-pressure).
            @ConfigProperty(name = "katmesh.reward.max-parked", defaultValue = "10000") int maxParked,
            @ConfigProperty(name = "katmesh.reward.weight.tests", defaultValue = "1.0") double wTests,
            @ConfigProperty(name = "katmesh.reward.weight.similarity", defaultValue = "0.2") double wSimilarity,
            @ConfigProperty(name = "katmesh.reward.weight.format", defaultValue = "0.5") double wFormat,
            // Which closeness to the references weight.similarity weighs: absolute (1 − edit distance / length) or
            // relative (1 − the edit distance left / the start's: KAT-Coder's relative discrepancy). Both are recorded.
            @ConfigProperty(name = "katmesh.reward.similarity-form", defaultValue = "absolute")
                    RewardWeights.SimilarityForm similarityForm,
            // A taskless trajectory's own claims (its reported test results, its feedback): nothing the reward
            // verified.
            @ConfigProperty(name = "katmesh.reward.weight.unverified-tests", defaultValue = "0")
                    double wUnverifiedTests,
            @ConfigProperty(name = "katmesh.reward.weight.unverified-feedback", defaultValue = "0")
                    double wUnverifiedFeedback) {
        this.outcomes = outcomes;
        this.registry = registry;
        this.tasks = tasks;
        this.taskWait = taskWait;
        this.maxParked = maxParked;
        Gauge.builder("katmesh.reward.parked", parked::get)
                .description("Records waiting, without a scoring slot, for their task to arrive")
                .register(registry);
        this.scoredIds = scoredIds;
        this.secrets = secrets;
        this.slots = new Slots(concurrency);
        this.pool = Executors.newFixedThreadPool(concurrency, r -> {
            Thread t = new Thread(r, "katmesh-scoring");
            t.setDaemon(true);
            return t;
        });
        Gauge.builder("katmesh.reward.scoring.in.flight", slots::inUse)
                .description("Records being scored now (at most scoring-concurrency)")
                .register(registry);
        this.decoder = new RawTrajectoryDecoder(maxRecordBytes, vocabSize);
        this.reward = new MultiGroundTruthReward(
                new TaskTests(new MeteredSandbox(Sandboxes.fromEnvironment(System.getenv()), registry)),
                new RewardWeights(wTests, wSimilarity, wFormat, wUnverifiedTests, wUnverifiedFeedback, similarityForm));
        this.duplicates = Counter.builder("katmesh.reward.duplicates")
                .description("Trajectories seen before (redelivered or republished): acknowledged, not scored again")
                .register(registry);
        this.scoring = Timer.builder("katmesh.reward.scoring")
                .description("Time to score a trajectory, sandbox runs included")
                .register(registry);
        this.ignoredFields = Counter.builder("katmesh.reward.ignored.agent.fields")
                .description("Reward, mask and advantage fields set by agents: ignored, never trusted")
                .register(registry);
    }

    /**
     * Hands each record of a poll to the scoring pool as slots free up; the returned stage completes when the last
     * has one, and the connector polls again then (back-pressure). Records are scored in parallel, each
     * acknowledged (or dead-lettered) when its own output is ({@link RawBatch}); an offset is committed only when
     * every record before it is decided too.
     */
    @Incoming("trajectories-raw")
    public CompletionStage<Void> onRaw(Message<List<byte[]>> batch) {
        CompletableFuture<Void> handed = CompletableFuture.completedFuture(null);
        for (Message<byte[]> raw : RawBatch.records(batch)) {
            outcomes.received(raw);
            handed = handed.thenCompose(v -> slots.acquire()).thenRun(() -> pool.execute(() -> handle(raw)));
        }
        return handed;
    }

    /**
     * On a scoring thread holding a slot: decodes the record, then scores it, or — when it names a task not
     * known yet — parks it without its slot until the task arrives or {@code task-wait} passes, so a burst
     * of such records never holds the scoring threads (records behind them go on being scored).
     */
    private void handle(Message<byte[]> raw) {
        boolean slotHandedOn = false;
        try {
            scoredIds.awaitReady();
            RawTrajectoryDecoder.Decoded decoded;
            try {
                decoded = decoder.decode(raw.getPayload(), header(raw, "content-type"));
            } catch (RejectedTrajectoryException e) {
                outcomes.send(raw, outcomes.reject(e));
                return;
            } catch (RuntimeException e) {
                LOG.errorf(e, "unexpected failure decoding a raw trajectory at %s", OutcomePublisher.position(raw));
                outcomes.send(
                        raw,
                        outcomes.reject(new RejectedTrajectoryException(RejectReason.INTERNAL, String.valueOf(e))));
                return;
            }
            RawTrajectoryDecoder.Decoded sourced = withSourceOfItsTopic(raw, decoded);
            RejectedTrajectoryException secret = secrets.rejects(sourced.trajectory());
            if (secret != null) {
                outcomes.send(raw, outcomes.reject(secret));
                return;
            }
            String taskId = sourced.trajectory().getTaskId();
            CompletableFuture<Optional<Task>> task = taskId.isEmpty()
                    ? CompletableFuture.completedFuture(Optional.empty())
                    : tasks.whenKnown(taskId, taskWait);
            if (task.isDone() || parked.get() >= maxParked) {
                // known, taskless, or too many parked already: wait here (back-pressure) rather than hold more in
                // memory
                scoreAndPublish(raw, sourced, task.join());
                return;
            }
            parked.incrementAndGet();
            slotHandedOn = true;
            slots.release();
            task.thenAccept(t -> slots.acquire()
                    .thenRun(() -> pool.execute(() -> {
                        try {
                            parked.decrementAndGet();
                            scoreAndPublish(raw, sourced, t);
                        } finally {
                            slots.release();
                        }
                    })));
        } catch (RuntimeException e) {
            LOG.errorf(
                    e,
                    "handling the record at %s failed; it is not acknowledged and will be redelivered",
                    OutcomePublisher.position(raw));
        } finally {
            if (!slotHandedOn) {
                slots.release();
            }
        }
    }

    /** The trajectory with the source its topic gives it; a producer that claimed another is counted. */
    private RawTrajectoryDecoder.Decoded withSourceOfItsTopic(
            Message<byte[]> raw, RawTrajectoryDecoder.Decoded decoded) {
        TrajectorySource source = Topics.sourceOf(raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> m.getTopic())
                .orElse(null));
        TrajectorySource claimed = decoded.trajectory().getSource();
        if (claimed == source) {
            return decoded;
        }
        if (claimed != TrajectorySource.TRAJECTORY_SOURCE_UNSPECIFIED) {
            registry.counter("katmesh.reward.source.overridden", "claimed", claimed.name(), "decided", source.name())
                    .increment();
        }
        return new RawTrajectoryDecoder.Decoded(
                decoded.trajectory().toBuilder().setSource(source).build(),
                decoded.ignoredAgentFields(),
                decoded.format());
    }

    private void scoreAndPublish(Message<byte[]> raw, RawTrajectoryDecoder.Decoded decoded, Optional<Task> task) {
        try {
            OutcomePublisher.Outcome outcome = score(raw, decoded, task);
            outcomes.send(raw, outcome);
        } catch (RuntimeException e) {
            LOG.errorf(
                    e,
                    "handling the record at %s failed; it is not acknowledged and will be redelivered",
                    OutcomePublisher.position(raw));
        }
    }

    private OutcomePublisher.Outcome score(
            Message<byte[]> raw, RawTrajectoryDecoder.Decoded decoded, Optional<Task> task) {
        String id = decoded.trajectory().getTrajectoryId();
        String taskId = decoded.trajectory().getTaskId();
        if (!taskId.isEmpty() && task.isEmpty()) {
            return outcomes.reject(new RejectedTrajectoryException(
                    RejectReason.UNKNOWN_TASK,
                    "task " + taskId + " did not arrive on katmesh.tasks within " + taskWait.toSeconds() + " s"));
        }
        // The same id in flight on another scoring thread: wait for it, then it is a duplicate (or not, if it failed).
        CompletableFuture<Void> mine = new CompletableFuture<>();
        for (CompletableFuture<Void> other; (other = inFlight.putIfAbsent(id, mine)) != null; ) {
            other.join();
        }
        try {
            return score(decoded, id, task.orElse(null), raw);
        } catch (RuntimeException e) {
            LOG.errorf(e, "unexpected failure scoring a raw trajectory at %s", OutcomePublisher.position(raw));
            return outcomes.reject(new RejectedTrajectoryException(RejectReason.INTERNAL, String.valueOf(e)));
        } finally {
            inFlight.remove(id, mine);
            mine.complete(null);
        }
    }

    private OutcomePublisher.Outcome score(
            RawTrajectoryDecoder.Decoded decoded, String id, Task task, Message<byte[]> raw) {
        if (scoredIds.contains(id)) {
            duplicates.increment();
            return outcomes.duplicate();
        }
        ScoredTrajectory result;
        long start = System.nanoTime();
        try {
            // scored on what the agent did (the sandbox runs the real outcome), then redacted for training
            result = secrets.redact(reward.score(
                    decoded.trajectory(), task, decoded.ignoredAgentFields().size(), System.currentTimeMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return outcomes.retry(e);
        } catch (IOException | RuntimeException e) {
            LOG.errorf(e, "scoring failed for %s at %s", id, OutcomePublisher.position(raw));
            return outcomes.reject(new RejectedTrajectoryException(RejectReason.INTERNAL, "scoring failed: " + e));
        } finally {
            scoring.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        }
        ignoredFields.increment(decoded.ignoredAgentFields().size());
        scoredIds.add(id); // before the in-flight mark is lifted: a copy waiting on it is a duplicate now
        return outcomes.score(id, result);
    }

    private static String header(Message<byte[]> raw, String name) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> RecordHeaders.text(m.getHeaders(), name))
                .orElse(null);
    }
}
