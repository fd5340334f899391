package dev.katmesh.reward.feedback;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.KafkaClientSettings;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.reward.RejectedTrajectoryException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jboss.logging.Logger;

/**
 * The join's one thread: a consumer in the group katmesh-reward-feedback over the senders' topics (the intake:
 * katmesh.feedback and katmesh.feedback.from.*, {@link FeedbackSenders}) and katmesh.feedback.join (the state), and a
 * transactional producer.
 *
 * <p>DESIGN. Exactly once by transactions, as Kafka Streams does it. A feedback record is copied to the join topic
 * (at its join key's partition) in one transaction with its consumed offset, so it is taken once whatever crashes.
 * The state of the join partitions this instance owns is what it reads from the join topic (read_committed), from the
 * start at each assignment; decisions are made only once every owned join partition is read to its end, and each
 * decision — the scored (or dead-letter) record with the entry it ends or rewrites — is one transaction, so a crash
 * either publishes both or neither. A key whose written entries are not read back yet is not decided again.
 */
final class JoinLoop implements Runnable {

    private static final Logger LOG = Logger.getLogger(JoinLoop.class);
    static final String GROUP = "katmesh-reward-feedback";
    private static final long TICK_MS = 250;

    private final Map<String, Object> kafkaConfig;
    private final long windowMs;
    private final double weight;
    private final FeedbackScopes scopes;
    private final JoinState state;
    private final JoinWriter writer;
    /** A join entry written by a committed transaction and not read back yet: its key decides nothing until it is. */
    private record InFlight(String joinKey, int partition) {}

    private final Map<String, InFlight> inFlight = new HashMap<>();
    /** Per owned join partition, the offset it must be read to before decisions are made. */
    private final Map<TopicPartition, Long> restoring = new ConcurrentHashMap<>();

    private volatile boolean running = true;
    /** Why the loop last failed, and since when it has been failing (0: it is not); for {@link FeedbackJoinHealth}. */
    private volatile String failure;

    private volatile long failingSinceMs;
    private KafkaConsumer<String, byte[]> consumer;
    private KafkaProducer<String, byte[]> producer;
    private int joinPartitions;

    JoinLoop(
            Map<String, Object> kafkaConfig,
            long windowMs,
            double weight,
            FeedbackScopes scopes,
            MeterRegistry registry) {
        this.kafkaConfig = kafkaConfig;
        this.scopes = scopes;
        this.state = new JoinState(scopes);
        this.windowMs = windowMs;
        this.weight = weight;
        this.writer = new JoinWriter(registry);
        Gauge.builder("katmesh.reward.feedback.waiting", state, s -> s.heldCount())
                .description("Deployed trajectories held for their feedback on this instance's partitions")
                .tag("state", "held")
                .register(registry);
        Gauge.builder("katmesh.reward.feedback.waiting", state, s -> s.releasedCount())
                .description("Deployed trajectories held for their feedback on this instance's partitions")
                .tag("state", "released")
                .register(registry);
        Gauge.builder("katmesh.reward.feedback.unmatched", state, s -> s.unmatchedCount())
                .description("Feedback records whose session has no trajectory yet (dead-lettered at the window's end)")
                .register(registry);
    }

    void stop() {
        running = false;
    }

    @Override
    public void run() {
        while (running) {
            try {
                open();
                loop();
            } catch (ProducerFencedException e) {
                failed(e);
                LOG.warnf("the feedback join's producer was fenced (another instance took its id); reopening: %s", e);
            } catch (RuntimeException e) {
                failed(e);
                LOG.errorf(e, "the feedback join failed; reopening in 1 s");
                sleep(1000);
            } finally {
                close();
            }
        }
    }

    private void open() {
        Properties c = KafkaClientSettings.consumer(kafkaConfig);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, GROUP);
        // A sender's topic created while the join runs is subscribed within this (the pattern is matched on metadata).
        c.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, "30000");
        consumer = new KafkaConsumer<>(c);
        Properties p = KafkaClientSettings.recordProducer(kafkaConfig, GROUP + "-tx");
        Object instance = kafkaConfig.get("group.instance.id");
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, GROUP + "-" + (instance != null ? instance : UUID.randomUUID()));
        producer = new KafkaProducer<>(p);
        producer.initTransactions();
        joinPartitions = producer.partitionsFor(Topics.FEEDBACK_JOIN).size();
        consumer.subscribe(FeedbackSenders.SUBSCRIPTION, new Rebalance());
    }

    private void failed(Exception e) {
        failure = String.valueOf(e);
        if (failingSinceMs == 0) {
            failingSinceMs = System.currentTimeMillis();
        }
    }

    /** Why the join last failed (null: it has not since it last ran); since when it fails (0: it does not). */
    String failure() {
        return failure;
    }

    long failingSinceMs() {
        return failingSinceMs;
    }

    /** Whether the state of every owned join partition is read (decisions are made only then). */
    boolean restored() {
        return restoring.isEmpty();
    }

    int held() {
        return state.heldCount();
    }

    private void loop() {
        long nextTick = 0;
        while (running) {
            failingSinceMs = 0; // polling again: the join works
            List<ConsumerRecord<String, byte[]>> intake = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(TICK_MS))) {
                if (r.topic().equals(Topics.FEEDBACK_JOIN)) {
                    read(r);
                } else {
                    intake.add(r);
                }
            }
            restoring.entrySet().removeIf(e -> consumer.position(e.getKey()) >= e.getValue());
            long now = System.currentTimeMillis();
            List<JoinState.Action> due = List.of();
            if (restoring.isEmpty() && now >= nextTick) {
                Set<String> busy = new HashSet<>();
                inFlight.values().forEach(f -> busy.add(f.joinKey()));
                due = state.decide(now, windowMs, weight, busy);
                nextTick = now + TICK_MS;
            }
            if (!intake.isEmpty() || !due.isEmpty()) {
                transact(intake, due, now);
            }
        }
    }

    /** One transaction: the intake copied (or dead-lettered) with its offsets, and the decisions due. */
    private void transact(List<ConsumerRecord<String, byte[]>> intake, List<JoinState.Action> due, long now) {
        Map<String, InFlight> written = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        producer.beginTransaction();
        try {
            for (ConsumerRecord<String, byte[]> r : intake) {
                producer.send(writer.intake(r, scopes, now, joinPartitions));
                offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
            }
            for (JoinState.Action a : due) {
                writer.write(a, now, producer::send)
                        .forEach(entry -> written.put(entry, new InFlight(a.joinKey(), a.partition())));
            }
            if (!offsets.isEmpty()) {
                producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
            }
            producer.commitTransaction();
            inFlight.putAll(written);
            writer.committed(due);
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            LOG.warnf("a feedback join transaction failed and is aborted; the feedback is read again: %s", e);
            producer.abortTransaction();
            rewind(offsets.keySet());
        }
    }

    /** A join entry read back: the state follows the topic. */
    private void read(ConsumerRecord<String, byte[]> r) {
        String joinKey = RecordHeaders.text(r.headers(), JoinEntry.KEY);
        if (joinKey == null || r.key() == null) {
            LOG.warnf("ignoring a join entry without a key at %d@%d", r.partition(), r.offset());
            return;
        }
        inFlight.remove(r.key());
        if (r.value() == null) {
            state.ended(joinKey, r.key());
            return;
        }
        long since = RecordHeaders.number(r.headers(), JoinEntry.SINCE);
        try {
            if (r.key().startsWith("f/")) {
                String position = r.key().substring(2);
                state.feedback(
                        joinKey,
                        r.partition(),
                        new JoinState.Verdict(FeedbackParser.parse(joinKey, r.value(), position, since), r.value()));
                return;
            }
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
            String id = r.key().substring(2);
            String published = RecordHeaders.text(r.headers(), RecordHeaders.PUBLISHED_MS);
            String raw = RecordHeaders.text(r.headers(), RecordHeaders.RAW_POSITION);
            if (JoinEntry.RELEASED.equals(RecordHeaders.text(r.headers(), JoinEntry.STATE))) {
                List<String> applied = JoinEntry.positions(RecordHeaders.text(r.headers(), RecordHeaders.FEEDBACK));
                state.released(joinKey, r.partition(), new JoinState.Released(id, s, since, applied, published, raw));
            } else {
                state.held(joinKey, r.partition(), new JoinState.Held(id, s, since, published, raw));
            }
        } catch (RejectedTrajectoryException | InvalidProtocolBufferException e) {
            LOG.errorf("a join entry at %d@%d cannot be read (%s); it is left as it is", r.partition(), r.offset(), e);
        }
    }

    private void rewind(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(new HashSet<>(partitions));
        for (TopicPartition tp : partitions) {
            OffsetAndMetadata o = committed.get(tp);
            if (o != null) {
                consumer.seek(tp, o);
            } else {
                consumer.seekToBeginning(List.of(tp));
            }
        }
    }

    private void close() {
        try {
            if (consumer != null) {
                consumer.close(Duration.ofSeconds(5));
            }
            if (producer != null) {
                producer.close(Duration.ofSeconds(5));
            }
        } catch (RuntimeException e) {
            LOG.debugf("closing the feedback join's clients: %s", e);
        }
        consumer = null;
        producer = null;
        state.drop(allPartitions());
        inFlight.clear();
        restoring.clear();
    }

    private List<Integer> allPartitions() {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < Math.max(joinPartitions, 1); i++) {
            all.add(i);
        }
        return all;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Join partitions gained are read from the start (the state); lost ones are forgotten. */
    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            List<TopicPartition> join = partitions.stream()
                    .filter(tp -> tp.topic().equals(Topics.FEEDBACK_JOIN))
                    .toList();
            if (join.isEmpty()) {
                return;
            }
            consumer.seekToBeginning(join);
            consumer.endOffsets(join).forEach(restoring::put);
            LOG.infof("feedback join: reading the state of %s", join);
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            List<Integer> join = partitions.stream()
                    .filter(tp -> tp.topic().equals(Topics.FEEDBACK_JOIN))
                    .map(TopicPartition::partition)
                    .toList();
            state.drop(join);
            inFlight.values().removeIf(f -> join.contains(f.partition())); // read from the start if they come back
            partitions.forEach(restoring::remove);
        }
    }
}
