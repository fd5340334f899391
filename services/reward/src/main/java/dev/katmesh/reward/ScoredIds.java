package dev.katmesh.reward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The trajectory ids scored so far, as far as this instance must know them to score each id once.
 *
 * <p>DESIGN. A raw record's offset is committed only after its scored record was acknowledged, so a crash
 * between the two, or a partition moving to another instance, delivers the raw record again. The ids this
 * instance scored are in memory ({@link SeenTrajectories}); the ids other instances (or this one before a
 * restart) scored are on katmesh.trajectories.scored. They are read from its tail before the first record is
 * scored, and again, from where the last read stopped, each time this instance is assigned partitions: the
 * instance that had them has published everything it will (it waited for its publishing on revocation:
 * {@link PartitionOwnership}; or it is dead), so a record it scored is a recognised duplicate here. That store is
 * bounded ({@code dedupe-capacity}); the ids scored for the assigned partitions' uncommitted records, which are the
 * ones delivered again, are read besides by their raw positions and kept while the partitions are owned
 * ({@link HandedOverIds}).
 */
@ApplicationScoped
class ScoredIds {

    private static final Logger LOG = Logger.getLogger(ScoredIds.class);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(60);

    private final SeenTrajectories seen;
    private final Map<String, Object> kafkaConfig;
    /** Ids scored for the uncommitted records of the partitions this instance owns: kept until they move on. */
    private final Map<String, TopicPartition> handedOver = new ConcurrentHashMap<>();

    private final ScoredIdsReader reader;
    private final boolean recover;
    private final Timer assignmentReads;
    private final Counter assignmentIds;
    /** Complete once the ids written before the last assignment are read; scoring waits on it. */
    private volatile CompletableFuture<Void> ready = new CompletableFuture<>();

    @Inject
    ScoredIds(
            MeterRegistry registry,
            @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig,
            // Trajectory ids remembered for deduplication (and read back from the scored topic's tail at most).
            @ConfigProperty(name = "katmesh.reward.dedupe-capacity", defaultValue = "100000") int capacity,
            // Read the scored ids from katmesh.trajectories.scored (off only where no broker holds them, as in the
            // service's bean tests).
            @ConfigProperty(name = "katmesh.reward.recover-scored-ids", defaultValue = "true") boolean recover) {
        this.seen = new SeenTrajectories(capacity);
        this.reader = new ScoredIdsReader(kafkaConfig, capacity);
        this.kafkaConfig = kafkaConfig;
        this.recover = recover;
        // The price of a partition moving here: this read, during which the instance's consumer does not poll.
        this.assignmentReads = Timer.builder("katmesh.reward.assignment.read")
                .description(
                        "Time reading, on partitions assigned, the scored ids written since the last read and those"
                                + " scored for the partitions' uncommitted records")
                .register(registry);
        this.assignmentIds = Counter.builder("katmesh.reward.assignment.read.ids")
                .description("Scored ids read on partitions assigned")
                .register(registry);
        if (!recover) {
            ready.complete(null);
        }
    }

    void onStart(@Observes StartupEvent started) {
        if (recover) {
            readInBackground(ready, Map.of());
        }
    }

    /**
     * On partitions assigned (the consumer's polling thread, before any of their records is delivered): reads
     * what other instances scored since the last read. If the broker does not answer in time, scoring waits
     * until a background read succeeds.
     */
    void partitionsAssigned(Map<TopicPartition, Long> committed) {
        if (!recover) {
            return;
        }
        try {
            long start = System.nanoTime();
            int n = reader.readNew(seen::add, READ_TIMEOUT);
            Map<String, TopicPartition> uncommitted = HandedOverIds.read(kafkaConfig, committed, READ_TIMEOUT);
            handedOver.putAll(uncommitted);
            long nanos = System.nanoTime() - start;
            assignmentReads.record(nanos, TimeUnit.NANOSECONDS);
            assignmentIds.increment(n);
            LOG.infof(
                    "read %d scored trajectory ids from %s on partitions assigned, and %d scored for the new"
                            + " partitions' records not committed yet, in %d ms",
                    n, ScoredIdsReader.TOPIC, uncommitted.size(), nanos / 1_000_000);
        } catch (RuntimeException e) {
            LOG.warnf("reading the scored ids on assignment failed, scoring waits for it: %s", e.getMessage());
            CompletableFuture<Void> gate = new CompletableFuture<>();
            ready = gate;
            readInBackground(gate, committed);
        }
    }

    /** The partitions moved on (or were lost): their handed-over ids are the new owner's concern. */
    void partitionsRevoked(Collection<TopicPartition> partitions) {
        handedOver.values().removeIf(partitions::contains);
    }

    /** Waits until the scored ids are read (a scoring thread, before it decides a record is new). */
    void awaitReady() {
        ready.join();
    }

    boolean contains(String id) {
        return seen.contains(id) || handedOver.containsKey(id);
    }

    void add(String id) {
        seen.add(id);
    }

    void remove(String id) {
        seen.remove(id);
    }

    private void readInBackground(CompletableFuture<Void> gate, Map<TopicPartition, Long> committed) {
        Thread t = new Thread(
                () -> {
                    for (int attempt = 1; !gate.isDone(); attempt++) {
                        try {
                            int n = reader.readNew(seen::add, READ_TIMEOUT);
                            handedOver.putAll(HandedOverIds.read(kafkaConfig, committed, READ_TIMEOUT));
                            LOG.infof("read %d scored trajectory ids from %s", n, ScoredIdsReader.TOPIC);
                            gate.complete(null);
                        } catch (RuntimeException e) {
                            LOG.warnf(
                                    "reading the scored ids failed (attempt %d), retrying: %s",
                                    attempt, e.getMessage());
                            try {
                                Thread.sleep(Math.min(10_000, 500L * attempt));
                            } catch (InterruptedException ie) {
                                return;
                            }
                        }
                    }
                },
                "katmesh-scored-ids");
        t.setDaemon(true);
        t.start();
    }
}
