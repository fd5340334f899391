package dev.katmesh.reward;

import io.smallrye.common.annotation.Identifier;
import io.smallrye.reactive.messaging.kafka.KafkaConsumerRebalanceListener;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Collection;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;
import org.jboss.logging.Logger;

/**
 * The capture channel's partitions as the group assigns them (mp.messaging.incoming.capture-requests
 * .consumer-rebalance-listener.name): a partition that leaves takes its open trees with it — the instance
 * gaining it rebuilds them from its committed offset, which is never past an open tree's first record.
 */
@ApplicationScoped
@Identifier(CapturePartitionsListener.NAME)
class CapturePartitionsListener implements KafkaConsumerRebalanceListener {

    static final String NAME = "katmesh-reward-capture-partitions";
    private static final Logger LOG = Logger.getLogger(CapturePartitionsListener.class);

    @Inject
    CaptureAssembly assembly;

    @Override
    public void onPartitionsRevoked(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        LOG.infof("capture partitions revoked %s", partitions);
        assembly.revoked(partitions.stream().map(TopicPartition::partition).toList());
    }

    @Override
    public void onPartitionsLost(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        onPartitionsRevoked(consumer, partitions);
    }
}
