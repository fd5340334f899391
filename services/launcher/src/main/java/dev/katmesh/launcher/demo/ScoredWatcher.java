package dev.katmesh.launcher.demo;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.launcher.mesh.KafkaClients;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Follows katmesh.trajectories.scored from now on, on a thread of its own, handing each scored
 * trajectory to a callback (the main job's task supply learns from them). Its own throw-away consumer
 * group, so it takes nothing from the learner's.
 */
public final class ScoredWatcher implements AutoCloseable {

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Thread thread;

    ScoredWatcher(KafkaClients kafka, Consumer<ScoredTrajectory> onScored) {
        Properties p = kafka.properties();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "katmesh-demo-watch-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(Topics.SCORED));
        thread = new Thread(
                () -> {
                    try {
                        while (!Thread.currentThread().isInterrupted()) {
                            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                                try {
                                    onScored.accept(ScoredTrajectory.parseFrom(r.value()));
                                } catch (InvalidProtocolBufferException e) {
                                    // The reward writes this topic; a record it cannot parse is not the demo's to
                                    // judge.
                                }
                            }
                        }
                    } catch (WakeupException e) {
                        // closed
                    } finally {
                        consumer.close(Duration.ofSeconds(5));
                    }
                },
                "demo-scored-watcher");
        thread.setDaemon(true);
        thread.start();
    }

    /** Every test suite of the task passed (the reward's "tests" component at 1). */
    static boolean solved(ScoredTrajectory s) {
        for (RewardComponent c : s.getComponentsList()) {
            if (c.getName().equals("tests")) {
                return c.getValue() >= 1.0 - 1e-9;
            }
        }
        return false;
    }

    @Override
    public void close() throws InterruptedException {
        consumer.wakeup();
        thread.join(10_000);
    }
}
