package dev.katmesh.reward;

import io.smallrye.common.annotation.Identifier;
import io.smallrye.reactive.messaging.kafka.KafkaConsumerRebalanceListener;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.jboss.logging.Logger;

/**
 * The raw channel's partitions as the group assigns them (mp.messaging.incoming.trajectories-raw
 * .consumer-rebalance-listener.name): revocation fences and drains the outcomes being published
 * ({@link PartitionOwnership}); assignment reads what other instances scored ({@link ScoredIds}) before the
 * partitions' first records are delivered. Called on the consumer's polling thread.
 */
@ApplicationScoped
@Identifier(RawPartitionsListener.NAME)
class RawPartitionsListener implements KafkaConsumerRebalanceListener {

    static final String NAME = "katmesh-reward-raw-partitions";
    private static final Logger LOG = Logger.getLogger(RawPartitionsListener.class);

    @Inject
    PartitionOwnership ownership;

    @Inject
    ScoredIds scoredIds;

    @Override
    public void onPartitionsAssigned(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        LOG.infof("assigned %s", partitions);
        Map<TopicPartition, Long> committed = new HashMap<>();
        consumer.committed(new HashSet<>(partitions))
                .forEach((tp, o) -> committed.put(tp, o == null ? null : o.offset()));
        partitions.forEach(tp -> committed.putIfAbsent(tp, null));
        scoredIds.partitionsAssigned(committed);
        ownership.assigned(partitions);
    }

    @Override
    public void onPartitionsRevoked(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        LOG.infof("revoked %s", partitions);
        try {
            ownership.revoked(partitions);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        scoredIds.partitionsRevoked(partitions);
    }

    @Override
    public void onPartitionsLost(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        LOG.infof("lost %s", partitions);
        ownership.lost(partitions);
        scoredIds.partitionsRevoked(partitions);
    }
}
