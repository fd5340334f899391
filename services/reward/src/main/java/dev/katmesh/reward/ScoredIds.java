package dev.katmesh.reward;

import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
 * {@link PartitionOwnership}; or it is dead), so a record it scored is a recognised duplicate here.
 */
@ApplicationScoped
class ScoredIds {

    private static final Logger LOG = Logger.getLogger(ScoredIds.class);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(60);

    private final SeenTrajectories seen;
    private final ScoredIdsReader reader;
    private final boolean recover;
    /** Complete once the ids written before the last assignment are read; scoring waits on it. */
    private volatile CompletableFuture<Void> ready = new CompletableFuture<>();

    @Inject
    ScoredIds(
            @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig,
            // Trajectory ids remembered for deduplication (and read back from the scored topic's tail at most).
            @ConfigProperty(name = "katmesh.reward.dedupe-capacity", defaultValue = "100000") int capacity,
            // Read the scored ids from katmesh.trajectories.scored (off only where no broker holds them, as in the
            // service's bean tests).
            @ConfigProperty(name = "katmesh.reward.recover-scored-ids", defaultValue = "true") boolean recover) {
        this.seen = new SeenTrajectories(capacity);
        this.reader = new ScoredIdsReader(kafkaConfig, capacity);
        this.recover = recover;
        if (!recover) {
            ready.complete(null);
        }
    }

    void onStart(@Observes StartupEvent started) {
        if (recover) {
            readInBackground(ready);
        }
    }

    /**
     * On partitions assigned (the consumer's polling thread, before any of their records is delivered): reads
     * what other instances scored since the last read. If the broker does not answer in time, scoring waits
     * until a background read succeeds.
     */
    void partitionsAssigned() {
        if (!recover) {
            return;
        }
        try {
            int n = reader.readNew(seen::add, READ_TIMEOUT);
            LOG.infof("read %d scored trajectory ids from %s on partitions assigned", n, ScoredIdsReader.TOPIC);
        } catch (RuntimeException e) {
            LOG.warnf("reading the scored ids on assignment failed, scoring waits for it: %s", e.getMessage());
            CompletableFuture<Void> gate = new CompletableFuture<>();
            ready = gate;
            readInBackground(gate);
        }
    }

    /** Waits until the scored ids are read (a scoring thread, before it decides a record is new). */
    void awaitReady() {
        ready.join();
    }

    boolean contains(String id) {
        return seen.contains(id);
    }

    void add(String id) {
        seen.add(id);
    }

    void remove(String id) {
        seen.remove(id);
    }

    private void readInBackground(CompletableFuture<Void> gate) {
        Thread t = new Thread(
                () -> {
                    for (int attempt = 1; !gate.isDone(); attempt++) {
                        try {
                            int n = reader.readNew(seen::add, READ_TIMEOUT);
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
