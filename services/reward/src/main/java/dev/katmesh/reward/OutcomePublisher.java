package dev.katmesh.reward;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.reward.feedback.FeedbackJoin;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.jboss.logging.Logger;

/**
 * Publishes what was decided about a raw record: its score to katmesh.trajectories.scored, or its dead letter
 * with the reason to katmesh.trajectories.dlq, or nothing for a duplicate; then acknowledges the record, so its
 * offset may be committed ({@link RawBatch}). A scoring thread hands the outcome over and goes on: at most
 * {@code katmesh.reward.max-publishing} outcomes wait for the broker at once, and an outcome is published only while
 * its record's partition is owned ({@link PartitionOwnership}).
 */
@ApplicationScoped
class OutcomePublisher {

    private static final Logger LOG = Logger.getLogger(OutcomePublisher.class);

    /** What to do with a record: publish a score, dead-letter it, or acknowledge a duplicate. */
    interface Outcome {
        CompletionStage<Void> publish(Message<byte[]> raw);

        /** Not published: the record's partition moved to another instance, which will decide it again. */
        default void handedOver() {}
    }

    private final OutcomeSink sink;
    private final MeterRegistry registry;
    private final PartitionOwnership ownership;
    private final ScoredIds scoredIds;
    private final Slots publishing;
    private final Counter scoredCounter;
    private final FeedbackJoin feedback;
    /** The assignment generation of each record's partition when it was received (until its outcome is sent). */
    private final Map<Message<byte[]>, Long> received = Collections.synchronizedMap(new WeakHashMap<>());

    @Inject
    OutcomePublisher(
            OutcomeSink sink,
            MeterRegistry registry,
            PartitionOwnership ownership,
            ScoredIds scoredIds,
            FeedbackJoin feedback,
            // Records handed to the producer (scored or dead-lettered) and not yet acknowledged by the broker, at
            // most; a scoring thread waits for room past it (the producer's buffer.memory bounds their bytes too).
            @ConfigProperty(name = "katmesh.reward.max-publishing", defaultValue = "1024") int maxPublishing) {
        this.sink = sink;
        this.registry = registry;
        this.ownership = ownership;
        this.scoredIds = scoredIds;
        this.feedback = feedback;
        this.publishing = new Slots(maxPublishing);
        Gauge.builder("katmesh.reward.publishing", publishing::inUse)
                .description("Records handed to the producer and not yet acknowledged by the broker")
                .register(registry);
        this.scoredCounter = Counter.builder("katmesh.reward.scored")
                .description("Trajectories scored and published to katmesh.trajectories.scored")
                .register(registry);
        for (RejectReason r :
                RejectReason.values()) { // at zero: dashboards and rate() see every reason before its first record
            registry.counter("katmesh.reward.rejected", "reason", r.name());
        }
    }

    /** A record arrives: its partition's assignment now decides whether its outcome may be published later. */
    void received(Message<byte[]> raw) {
        received.put(raw, ownership.generation(partition(raw)));
    }

    /**
     * Starts publishing the outcome once fewer than max-publishing records wait for the broker (waiting here
     * otherwise: back-pressure on the scoring threads), without waiting for it to finish.
     */
    void send(Message<byte[]> raw, Outcome outcome) {
        TopicPartition tp = partition(raw);
        Long generation = received.remove(raw);
        publishing.acquire().join();
        if (!ownership.startPublishing(tp, generation != null ? generation : ownership.generation(tp))) {
            // the partition moved on: its new owner publishes this record's outcome
            publishing.release();
            outcome.handedOver();
            LOG.debugf("the record at %s is handed over to its partition's new owner", position(raw));
            return;
        }
        CompletionStage<Void> sent;
        try {
            sent = outcome.publish(raw);
        } catch (RuntimeException e) {
            published(tp);
            throw e;
        }
        sent.whenComplete((done, e) -> {
            published(tp);
            if (e != null) {
                LOG.errorf(
                        e,
                        "publishing the outcome of the record at %s failed; it is not acknowledged and will be"
                                + " redelivered",
                        position(raw));
            }
        });
    }

    /** The score of trajectory {@code id}, already added to the scored ids (forgotten again if not published). */
    Outcome score(String id, ScoredTrajectory result) {
        return new Outcome() {
            @Override
            public CompletionStage<Void> publish(Message<byte[]> r) {
                return publishScore(r, id, result);
            }

            @Override
            public void handedOver() {
                scoredIds.remove(id); // not scored here after all: the new owner's copy must not count as a duplicate
            }
        };
    }

    /** The record goes to the dead-letter topic with its reason. */
    Outcome reject(RejectedTrajectoryException e) {
        return r -> reject(r, e);
    }

    /** A duplicate: acknowledged, nothing published. */
    Outcome duplicate() {
        return Message::ack;
    }

    /** Not decided (scoring was interrupted): neither published nor acknowledged, so it is delivered again. */
    Outcome retry(Throwable why) {
        return r -> r.nack(why);
    }

    private void published(TopicPartition tp) {
        publishing.release();
        ownership.published(tp);
    }

    private CompletionStage<Void> publishScore(Message<byte[]> r, String id, ScoredTrajectory result) {
        Optional<IncomingKafkaRecordMetadata> at = kafka(r);
        long publishedMs = at.map(m -> m.getTimestamp().toEpochMilli()).orElse(System.currentTimeMillis());
        String rawPosition = at.map(m -> RecordHeaders.rawPosition(m.getTopic(), m.getPartition(), m.getOffset()))
                .orElse(null);
        CompletionStage<Void> sent = feedback.holds(result)
                // a deployed trajectory waits for its feedback: the join publishes its score later (FeedbackJoin)
                ? feedback.hold(result, publishedMs, rawPosition)
                : sink.send(new ProducerRecord<>(
                                Topics.SCORED,
                                null,
                                result.getTrajectory().getGroupId(),
                                result.toByteArray(),
                                // when the agent published it: the learner measures agent-to-trainer latency from here
                                RecordHeaders.scored(id, publishedMs, rawPosition)))
                        .thenRun(scoredCounter::increment);
        return sent.thenCompose(v -> r.ack()).exceptionallyCompose(e -> {
            // Not scored after all (the producer gave up): forget it, and dead-letter the record with why.
            scoredIds.remove(id);
            return reject(
                    r, new RejectedTrajectoryException(RejectReason.INTERNAL, "publishing the score failed: " + e));
        });
    }

    private CompletionStage<Void> reject(Message<byte[]> raw, RejectedTrajectoryException e) {
        LOG.warnf("dead-lettering the record at %s: %s", position(raw), e.getMessage());
        registry.counter("katmesh.reward.rejected", "reason", e.reason().name()).increment();
        Optional<IncomingKafkaRecordMetadata> at = kafka(raw);
        ProducerRecord<String, byte[]> dead = new ProducerRecord<>(
                Topics.DLQ,
                null,
                at.map(m -> (String) m.getKey()).orElse(null),
                raw.getPayload(),
                RecordHeaders.deadLetter(
                        at.map(IncomingKafkaRecordMetadata::getHeaders).orElse(null),
                        e.reason().name(),
                        e.getMessage(),
                        at.map(IncomingKafkaRecordMetadata::getTopic).orElse(null),
                        at.map(IncomingKafkaRecordMetadata::getPartition).orElse(-1),
                        at.map(IncomingKafkaRecordMetadata::getOffset).orElse(-1L)));
        return sink.send(dead).thenCompose(v -> raw.ack());
    }

    private static Optional<IncomingKafkaRecordMetadata> kafka(Message<byte[]> raw) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class);
    }

    private static TopicPartition partition(Message<byte[]> raw) {
        return kafka(raw)
                .map(m -> new TopicPartition(m.getTopic(), m.getPartition()))
                .orElse(null);
    }

    /** Where a record is ("topic-partition@offset"), for logs. */
    static String position(Message<byte[]> raw) {
        return kafka(raw)
                .map(m -> m.getTopic() + "-" + m.getPartition() + "@" + m.getOffset())
                .orElse("?");
    }
}
