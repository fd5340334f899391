package dev.katmesh.learner;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.GroupAssembler;
import dev.katmesh.training.ScoredSamples;
import dev.katmesh.training.StalenessGate;
import dev.katmesh.training.StepQueue;
import dev.katmesh.training.TrainingSample;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.jboss.logging.Logger;

/**
 * A stage on the scored topic (RFT, or SFT on what agents did): each record is admitted or dropped
 * ({@link Admission}), admitted ones wait in their group ({@link GroupAssembler}), complete groups in the step
 * queue ({@link StepQueue}: dynamic sampling and the staleness bound), and a step trains what the queue hands out.
 * The offsets of what is held untrained are never committed ({@link HeldOffsets}).
 */
final class TopicStage implements TrainingRun.Positions {

    private static final Logger LOG = Logger.getLogger(TopicStage.class);

    /** A trajectory held until it is trained or dropped. */
    record Member(
            String trajectoryId,
            String group,
            TopicPartition partition,
            long offset,
            TrainingSample sample,
            double reward,
            long publishedAtMs,
            long scoredAtMs,
            long oldestVersion,
            boolean openEnd) {}

    private final TrainingRun run;
    private final ChatSamples chat;
    private final KafkaConsumer<String, byte[]> consumer;
    private final LearnerSettings settings;
    private final BooleanSupplier running;
    private final Map<String, Long> resumeOffsets;
    private final HeldOffsets offsets = new HeldOffsets();
    private boolean subscribed;
    private long recordsConsumed;
    private long supplied; // records of the running stage's own source read since it (re)started: its budget's count

    TopicStage(
            TrainingRun run,
            ChatSamples chat,
            KafkaConsumer<String, byte[]> consumer,
            LearnerSettings settings,
            BooleanSupplier running) {
        this.run = run;
        this.chat = chat;
        this.consumer = consumer;
        this.settings = settings;
        this.running = running;
        this.resumeOffsets = run.published().offsets();
        run.positions(this);
    }

    void run() throws Exception {
        Admission admission = new Admission(
                run.stage, run.lineage::alreadyTrained, run.model.config().maxPositionEmbeddings());
        boolean rl = admission.rl();
        int size = rl ? settings.groupSize() : settings.groupSize() * settings.groupsPerStep();
        // A policy-gradient group waits for its members (or the group-timeout); a supervised batch may be told to
        // train with what it has after the stage's batch_wait_ms (latency against batch size).
        long waitMs = !rl && run.stage.batchWaitMs() >= 0
                ? run.stage.batchWaitMs()
                : settings.groupTimeout().toMillis();
        GroupAssembler<Member> groups = new GroupAssembler<>(size, waitMs, System::currentTimeMillis);
        // A batch's wait is checked after each poll: polling at half the wait keeps the overshoot under half of it.
        Duration poll = Duration.ofMillis(Math.max(20, Math.min(500, waitMs / 2)));
        StepQueue<Member> queue = new StepQueue<>(
                settings.groupsPerStep(),
                rl ? new StalenessGate(settings.maxStaleness()) : null,
                Member::reward,
                Member::oldestVersion,
                this::skipped);
        subscribe();
        supplied = 0;
        while (running.getAsBoolean() && run.endedBy(supplied) == null) {
            Map<TopicPartition, Long> unread = new HashMap<>(); // past the budget: left for the next stage
            for (ConsumerRecord<String, byte[]> r : consumer.poll(poll)) {
                if (supplied >= run.stage.maxTrajectories()) {
                    unread.putIfAbsent(new TopicPartition(r.topic(), r.partition()), r.offset());
                    continue;
                }
                Member m = accept(r, admission);
                if (m != null) {
                    for (GroupAssembler.Ready<Member> g : groups.add(m.group(), m)) {
                        queue.offer(g.members());
                    }
                }
                recordsConsumed++;
            }
            unread.forEach(consumer::seek);
            for (GroupAssembler.Ready<Member> g : groups.expired()) {
                run.metrics.groupTimedOut();
                queue.offer(g.members());
            }
            queue.dropStale(run.version());
            while (queue.ready() && !run.stageDone()) {
                step(queue.take());
                queue.dropStale(run.version());
            }
            run.progress.consumed(recordsConsumed, queue.size());
        }
        // The stage ends with a checkpoint whose offsets stop before what it holds untrained (the last one already
        // does when no step came after it); the next stage reads from there, so those records are not lost.
        run.endStage(run.endedBy(supplied));
        Map<TopicPartition, Long> read = offsets.readPartitions();
        offsets.reset();
        read.forEach(
                (tp, next) -> consumer.seek(tp, run.published().offsets().getOrDefault(HeldOffsets.key(tp), next)));
    }

    /** Reads {@code r}: a member to hold, or null when dropped (counted, and named in the ledger). */
    private Member accept(ConsumerRecord<String, byte[]> r, Admission admission) {
        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
        offsets.read(tp, r.offset());
        ScoredTrajectory s = parse(r);
        Admission.Decision d = admission.decide(s);
        if (d.dropped() != DropReason.OTHER_SOURCE) {
            supplied++;
        }
        String id = s != null ? s.getTrajectory().getTrajectoryId() : headerId(r);
        if (!d.admitted()) {
            run.dropped(d.dropped(), id);
            return null;
        }
        if (admission.rl() && d.oldestVersion() >= 0 && d.oldestVersion() < run.floorVersion()) {
            run.dropped(DropReason.STALE, id); // sampled before this stage's starting weights were served
            return null;
        }
        if (d.oldestVersion() >= 0) {
            long behind = Math.max(0, run.version() - d.oldestVersion());
            run.metrics.staleness(behind);
            run.progress.staleness(behind);
        }
        boolean hasTokens = s.getTrajectory().getTokenIdsCount() >= 2;
        TrainingSample sample = hasTokens
                ? ScoredSamples.of(s, admission.errorMasked())
                : chat.of(s.getTrajectory(), TrajectorySamples.maskedTurns(s, admission.errorMasked()));
        DropReason unfit = admission.fits(sample);
        if (unfit != null) {
            run.dropped(unfit, id);
            return null;
        }
        offsets.hold(tp, r.offset());
        return new Member(
                id,
                admission.rl() ? s.getTrajectory().getGroupId() : "batch",
                tp,
                r.offset(),
                sample,
                s.getReward(),
                publishedAtMs(r, s),
                r.timestamp(), // the scored record's creation time: when the reward published it
                d.oldestVersion(),
                ScoredSamples.openEnd(s.getTrajectory()));
    }

    /** Trains the groups the queue handed out, then releases their offsets. */
    private void step(List<List<Member>> taken) throws Exception {
        List<List<TrainingSample>> batch = new ArrayList<>();
        List<double[]> rewards = new ArrayList<>();
        List<Member> members = new ArrayList<>();
        for (List<Member> g : taken) {
            members.addAll(g);
            batch.add(g.stream().map(Member::sample).toList());
            rewards.add(g.stream().mapToDouble(Member::reward).toArray());
        }
        if (!batch.isEmpty()) {
            Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
            members.stream().filter(Member::openEnd).forEach(m -> open.add(m.sample()));
            run.step(batch, rewards, members.size(), open::contains);
            long now = System.currentTimeMillis();
            for (Member m : members) {
                run.lineage.trained(m.trajectoryId());
                if (m.publishedAtMs() > 0) {
                    run.metrics.latency(Math.max(0, now - m.publishedAtMs()));
                    run.progress.latency(Math.max(0, now - m.publishedAtMs()), now - m.scoredAtMs());
                }
            }
        }
        members.forEach(m -> offsets.release(m.partition(), m.offset()));
        run.maybePublish();
    }

    /** A group the step queue dropped (no reward variance, too small, or stale by now): counted, offsets released. */
    private void skipped(List<Member> g, String queueReason) {
        DropReason reason = switch (queueReason) {
            case StepQueue.ZERO_VARIANCE -> DropReason.ZERO_VARIANCE;
            case StepQueue.TOO_SMALL -> DropReason.GROUP_TOO_SMALL;
            default -> DropReason.STALE;
        };
        for (Member m : g) {
            run.dropped(reason, m.trajectoryId());
            offsets.release(m.partition(), m.offset());
        }
        if (reason != DropReason.STALE) {
            run.metrics.groupSkipped(reason);
        }
    }

    private void subscribe() {
        if (subscribed) {
            return;
        }
        subscribed = true;
        consumer.subscribe(List.of(Topics.SCORED), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                for (TopicPartition tp : partitions) {
                    Long offset = resumeOffsets.get(HeldOffsets.key(tp));
                    if (offset != null) {
                        consumer.seek(tp, offset);
                    }
                }
            }
        });
    }

    @Override
    public Map<String, Long> forCheckpoint() {
        return offsets.positions(run.published().offsets());
    }

    @Override
    public void committed(Map<String, Long> positions) {
        if (subscribed && !positions.isEmpty()) {
            HeldOffsets.commit(consumer, positions);
        }
    }

    /** The record's value, or null when unreadable; counts it as received by source. */
    private ScoredTrajectory parse(ConsumerRecord<String, byte[]> r) {
        try {
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value() == null ? new byte[0] : r.value());
            run.metrics.received(Topics.sourceTag(s.getTrajectory().getSource()));
            return s;
        } catch (InvalidProtocolBufferException e) {
            LOG.warnf(
                    "dropping an unreadable record at %s-%d@%d: %s",
                    r.topic(), r.partition(), r.offset(), e.getMessage());
            return null;
        }
    }

    /** The id a record's header names, or its position when it has none (an unreadable record). */
    static String headerId(ConsumerRecord<String, byte[]> r) {
        String id = RecordHeaders.text(r.headers(), RecordHeaders.TRAJECTORY_ID);
        return id != null ? id : r.topic() + "-" + r.partition() + "@" + r.offset();
    }

    /** When a trajectory was published: the scored record's header (the raw record's timestamp), else its creation time. */
    private static long publishedAtMs(ConsumerRecord<String, byte[]> r, ScoredTrajectory s) {
        long ms = RecordHeaders.number(r.headers(), RecordHeaders.PUBLISHED_MS);
        return ms >= 0 ? ms : s.getTrajectory().getCreatedAtMs();
    }
}
