package dev.katmesh.reward.feedback;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.reward.RejectedTrajectoryException;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;

/** The records each decision of the join writes (inside the join's transaction), and its counters. */
final class JoinWriter {

    private final MeterRegistry registry;

    JoinWriter(MeterRegistry registry) {
        this.registry = registry;
        for (String by : List.of("final", "window")) {
            registry.counter("katmesh.reward.feedback.released", "by", by);
        }
        registry.counter("katmesh.reward.feedback.revised");
        for (String outcome : List.of("joined", "refused", "unmatched", "out_of_scope")) {
            registry.counter("katmesh.reward.feedback.records", "outcome", outcome);
        }
    }

    /**
     * An intake record: copied to its key's join partition as sent, with when it was received, or dead-lettered with
     * its reason (unreadable, or from a sender with no scope).
     */
    ProducerRecord<String, byte[]> intake(
            ConsumerRecord<String, byte[]> r, FeedbackScopes scopes, long now, int joinPartitions) {
        FeedbackSenders.Position position = FeedbackSenders.Position.of(r.topic(), r.partition(), r.offset());
        try {
            if (!scopes.knows(position.sender())) {
                throw new RejectedTrajectoryException(
                        RejectReason.FEEDBACK_OUT_OF_SCOPE,
                        "sender '" + position.sender() + "' (" + r.topic() + ") may rate no session: it has no scope"
                                + " in katmesh.reward.feedback.senders");
            }
            FeedbackParser.parse(r.key(), r.value(), position.toString(), now);
        } catch (RejectedTrajectoryException e) {
            return deadLetter(r.key(), r.value(), position, e);
        }
        registry.counter("katmesh.reward.feedback.records", "outcome", "joined").increment();
        return new ProducerRecord<>(
                Topics.FEEDBACK_JOIN,
                JoinEntry.partition(r.key(), joinPartitions),
                JoinEntry.feedback(position.toString()),
                r.value(),
                JoinEntry.headers(r.key(), null, now));
    }

    /** A feedback record refused: on the dead-letter topic, as sent, with why and where it was. */
    private ProducerRecord<String, byte[]> deadLetter(
            String key, byte[] value, FeedbackSenders.Position at, RejectedTrajectoryException why) {
        String outcome = switch (why.reason()) {
            case UNMATCHED_FEEDBACK -> "unmatched";
            case FEEDBACK_OUT_OF_SCOPE -> "out_of_scope";
            default -> "refused";
        };
        registry.counter("katmesh.reward.feedback.records", "outcome", outcome).increment();
        registry.counter("katmesh.reward.rejected", "reason", why.reason().name())
                .increment();
        Headers h = RecordHeaders.deadLetter(
                null, why.reason().name(), why.getMessage(), at.topic(), at.partition(), at.offset());
        return new ProducerRecord<>(Topics.DLQ, null, key, value, h);
    }

    /** Sends the records of {@code a}; returns the join entries it wrote. */
    List<String> write(JoinState.Action a, long now, Consumer<ProducerRecord<String, byte[]>> send) {
        if (a instanceof JoinState.Release r) {
            String applied = applied(r.score());
            send.accept(scored(r.score(), r.held().publishedMs(), r.held().rawPosition(), applied));
            String entry = JoinEntry.trajectory(r.held().id());
            Headers h = JoinEntry.headers(r.joinKey(), JoinEntry.RELEASED, now);
            JoinEntry.add(h, RecordHeaders.FEEDBACK, applied);
            JoinEntry.add(h, RecordHeaders.PUBLISHED_MS, r.held().publishedMs());
            JoinEntry.add(h, RecordHeaders.RAW_POSITION, r.held().rawPosition());
            send.accept(new ProducerRecord<>(
                    Topics.FEEDBACK_JOIN, r.partition(), entry, r.score().toByteArray(), h));
            return List.of(entry);
        }
        if (a instanceof JoinState.Revise r) {
            send.accept(
                    scored(r.score(), r.released().publishedMs(), r.released().rawPosition(), applied(r.score())));
            return List.of(tombstone(r, JoinEntry.trajectory(r.released().id()), send));
        }
        if (a instanceof JoinState.Forget f) {
            return List.of(tombstone(f, f.entry(), send));
        }
        if (a instanceof JoinState.Refuse u) {
            String position = u.verdict().feedback().getPosition();
            send.accept(deadLetter(
                    u.joinKey(),
                    u.verdict().original(),
                    FeedbackSenders.Position.parse(position),
                    new RejectedTrajectoryException(u.reason(), u.why())));
            return List.of(tombstone(u, JoinEntry.feedback(position), send));
        }
        throw new IllegalArgumentException("unknown action " + a);
    }

    /** The decisions of a committed transaction, counted. */
    void committed(List<JoinState.Action> due) {
        for (JoinState.Action a : due) {
            if (a instanceof JoinState.Release r) {
                registry.counter("katmesh.reward.feedback.released", "by", r.byFinal() ? "final" : "window")
                        .increment();
            } else if (a instanceof JoinState.Revise) {
                registry.counter("katmesh.reward.feedback.revised").increment();
            }
        }
    }

    private static String tombstone(JoinState.Action a, String entry, Consumer<ProducerRecord<String, byte[]>> send) {
        send.accept(new ProducerRecord<>(
                Topics.FEEDBACK_JOIN, a.partition(), entry, null, JoinEntry.headers(a.joinKey(), null, 0)));
        return entry;
    }

    /** The positions of the verdicts a score joined (its scored record's and join entry's katmesh-feedback header). */
    private static String applied(ScoredTrajectory s) {
        return String.join(
                ",", s.getFeedbackList().stream().map(f -> f.getPosition()).toList());
    }

    private static ProducerRecord<String, byte[]> scored(
            ScoredTrajectory s, String publishedMs, String rawPosition, String applied) {
        Headers h = RecordHeaders.scored(
                s.getTrajectory().getTrajectoryId(),
                publishedMs == null ? s.getScoredAtMs() : Long.parseLong(publishedMs),
                rawPosition);
        JoinEntry.add(h, RecordHeaders.REVISION, Integer.toString(s.getRevision()));
        if (!applied.isEmpty()) {
            JoinEntry.add(h, RecordHeaders.FEEDBACK, applied);
        }
        return new ProducerRecord<>(Topics.SCORED, null, s.getTrajectory().getGroupId(), s.toByteArray(), h);
    }
}
