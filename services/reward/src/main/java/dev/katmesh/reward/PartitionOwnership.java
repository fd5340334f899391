package dev.katmesh.reward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.TopicPartition;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Which raw partitions this instance owns, and a fence: the outcome of a record (its score, its dead letter, a
 * duplicate's acknowledgement) is published only while its partition is owned.
 *
 * <p>DESIGN. When a partition moves to another instance (one joined or left the group), the records of it this
 * instance is still scoring have uncommitted offsets, so the new owner gets them again. Were both to publish, the
 * record would be scored twice. So on revocation the partition stops being owned at once: an outcome not yet
 * started is dropped (the new owner publishes it; counted in katmesh_reward_handed_over_total), and revocation
 * waits for the outcomes already being published to be acknowledged. Only then does the group assign the
 * partition on, and the new owner reads the scored ids ({@link ScoredIds}) before its first record. A record
 * without a partition (the in-memory channels of the bean tests) is always owned.
 */
@ApplicationScoped
class PartitionOwnership {

    private static final Logger LOG = Logger.getLogger(PartitionOwnership.class);

    private final Set<TopicPartition> owned = new HashSet<>();
    private final Map<TopicPartition, Integer> publishing = new HashMap<>();
    /** Per partition, how many times it was assigned here: a record received under an earlier one is stale. */
    private final Map<TopicPartition, Long> generations = new HashMap<>();

    private final Duration drain;
    private final Counter handedOver;
    private final Timer revocations;

    @Inject
    PartitionOwnership(
            MeterRegistry registry,
            // How long a revocation waits for the outcomes being published to be acknowledged (bounded by the
            // producer's delivery.timeout.ms, 2 minutes by default; the group's rebalance waits meanwhile).
            @ConfigProperty(name = "katmesh.reward.revoke-drain", defaultValue = "150s") Duration drain) {
        this.drain = drain;
        this.handedOver = Counter.builder("katmesh.reward.handed.over")
                .description("Records of a partition that moved to another instance before their outcome was published")
                .register(registry);
        this.revocations = Timer.builder("katmesh.reward.revocation.drain")
                .description("Time a revocation waited for the revoked partitions' outcomes to be acknowledged")
                .register(registry);
    }

    synchronized void assigned(Collection<TopicPartition> partitions) {
        owned.addAll(partitions);
        partitions.forEach(tp -> generations.merge(tp, 1L, Long::sum));
    }

    /** The partition's current assignment here (0 before the first): taken when a record is received. */
    synchronized long generation(TopicPartition tp) {
        return tp == null ? 0 : generations.getOrDefault(tp, 0L);
    }

    /** Stops owning the partitions, then waits until their outcomes being published are acknowledged. */
    synchronized void revoked(Collection<TopicPartition> partitions) throws InterruptedException {
        owned.removeAll(partitions);
        long start = System.nanoTime();
        long deadline = start + drain.toNanos();
        for (long left; (left = deadline - System.nanoTime()) > 0 && publishingAny(partitions); ) {
            wait(Math.max(1, left / 1_000_000));
        }
        revocations.record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
        if (publishingAny(partitions)) {
            LOG.warnf("revoked %s while outcomes were still being published after %s", partitions, drain);
        }
    }

    /** Lost (this instance was not in the group in time): others may own them already; nothing to wait for. */
    synchronized void lost(Collection<TopicPartition> partitions) {
        owned.removeAll(partitions);
    }

    /** {@link #startPublishing(TopicPartition, long)} for a record received under the current assignment. */
    synchronized boolean startPublishing(TopicPartition tp) {
        return startPublishing(tp, generation(tp));
    }

    /**
     * Before publishing a record's outcome: true (and counted as publishing until {@link #published}) if the
     * record's partition is owned, as it was when the record was received ({@code generation}); false if it moved
     * on, even if it came back since (another instance may have scored the record meanwhile; the group delivers it
     * here again), and the outcome must not be published.
     */
    synchronized boolean startPublishing(TopicPartition tp, long generation) {
        if (tp == null) {
            return true;
        }
        if (!owned.contains(tp) || generations.getOrDefault(tp, 0L) != generation) {
            handedOver.increment();
            return false;
        }
        publishing.merge(tp, 1, Integer::sum);
        return true;
    }

    /** The outcome started by {@link #startPublishing} was acknowledged, or failed. */
    synchronized void published(TopicPartition tp) {
        if (tp != null && publishing.merge(tp, -1, Integer::sum) <= 0) {
            publishing.remove(tp);
            notifyAll();
        }
    }

    private boolean publishingAny(Collection<TopicPartition> partitions) {
        return partitions.stream().anyMatch(publishing::containsKey);
    }
}
