package dev.katmesh.reward;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
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
    private final Duration drain;
    private final Counter handedOver;

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
    }

    synchronized void assigned(Collection<TopicPartition> partitions) {
        owned.addAll(partitions);
    }

    /** Stops owning the partitions, then waits until their outcomes being published are acknowledged. */
    synchronized void revoked(Collection<TopicPartition> partitions) throws InterruptedException {
        owned.removeAll(partitions);
        long deadline = System.nanoTime() + drain.toNanos();
        for (long left; (left = deadline - System.nanoTime()) > 0 && publishingAny(partitions); ) {
            wait(Math.max(1, left / 1_000_000));
        }
        if (publishingAny(partitions)) {
            LOG.warnf("revoked %s while outcomes were still being published after %s", partitions, drain);
        }
    }

    /** Lost (this instance was not in the group in time): others may own them already; nothing to wait for. */
    synchronized void lost(Collection<TopicPartition> partitions) {
        owned.removeAll(partitions);
    }

    /**
     * Before publishing a record's outcome: true (and counted as publishing until {@link #published}) if the
     * record's partition is owned; false if it moved on, and the outcome must not be published.
     */
    synchronized boolean startPublishing(TopicPartition tp) {
        if (tp == null) {
            return true;
        }
        if (!owned.contains(tp)) {
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
