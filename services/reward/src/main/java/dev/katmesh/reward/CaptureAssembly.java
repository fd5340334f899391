package dev.katmesh.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.capture.SessionAssembler;
import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RecordHeaders;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.eclipse.microprofile.reactive.messaging.OnOverflow;
import org.jboss.logging.Logger;

/**
 * Assembles the sessions inference captured (katmesh.capture.requests) into trajectories on katmesh.trajectories.raw,
 * where they are scored like any deployed agent's. A tree's records are acknowledged once its trajectories are on raw
 * (the throttled commit strategy then commits past them), so a restart or a partition move rebuilds every open tree
 * from the log ({@link SessionAssembler} has the rules). Trees whose inference process died are closed as orphaned
 * after {@code katmesh.reward.capture.orphan-timeout}, by their partition's record timestamps or, once the
 * partition is quiet, by the clock.
 */
@ApplicationScoped
public class CaptureAssembly {

    private static final Logger LOG = Logger.getLogger(CaptureAssembly.class);

    private final MutinyEmitter<byte[]> raw;
    private final MeterRegistry registry;
    private final SessionAssembler<Message<byte[]>> assembler;
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "katmesh-capture-sweeper");
        t.setDaemon(true);
        return t;
    });

    @Inject
    CaptureAssembly(
            @Channel("sessions-assembled") @OnOverflow(value = OnOverflow.Strategy.BUFFER, bufferSize = 8192)
                    MutinyEmitter<byte[]> raw,
            MeterRegistry registry,
            // How long after its last request a tree with no end is closed as orphaned (its inference died). Longer
            // than inference's katmesh.inference.capture.idle-timeout, after which a live inference ends it itself.
            @ConfigProperty(name = "katmesh.reward.capture.orphan-timeout", defaultValue = "5m") Duration orphanTimeout,
            // How long a partition must have had nothing to read before the clock may orphan its trees.
            @ConfigProperty(name = "katmesh.reward.capture.quiet", defaultValue = "5s") Duration quiet,
            // Open trees at most (each holds its requests' records); past it the one idle longest is closed.
            @ConfigProperty(name = "katmesh.reward.capture.max-open", defaultValue = "100000") int maxOpen) {
        this.raw = raw;
        this.registry = registry;
        this.assembler = new SessionAssembler<>(orphanTimeout, quiet, maxOpen);
        Gauge.builder("katmesh.reward.capture.open", this, a -> a.openTrees())
                .description("Captured session trees being assembled")
                .register(registry);
        sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    }

    /** One record of the capture log: held in its tree, or its tree closed and published. */
    @Incoming("capture-requests")
    public Uni<Void> onEvent(Message<byte[]> m) {
        var meta = m.getMetadata(IncomingKafkaRecordMetadata.class);
        CaptureEvent event;
        try {
            event = CaptureEvent.parseFrom(m.getPayload());
        } catch (InvalidProtocolBufferException e) {
            LOG.errorf(
                    "a capture record at %s is not a CaptureEvent: %s", OutcomePublisher.position(m), e.getMessage());
            count("malformed", 1);
            return Uni.createFrom().completionStage(m.ack());
        }
        // Without Kafka's metadata (the in-memory connector of the tests): one partition, the event's own time.
        int partition = meta.map(IncomingKafkaRecordMetadata::getPartition).orElse(0);
        long timestamp = meta.map(x -> x.getTimestamp().toEpochMilli()).orElse(event.getAtMs());
        List<SessionAssembler.Closed<Message<byte[]>>> closed;
        synchronized (assembler) {
            closed = assembler.accept(event, partition, timestamp, System.currentTimeMillis(), m);
        }
        closed.forEach(this::publish);
        return Uni.createFrom().voidItem();
    }

    /** Forgets the trees of partitions this instance no longer reads (CapturePartitionsListener). */
    void revoked(List<Integer> partitions) {
        synchronized (assembler) {
            partitions.forEach(assembler::revoke);
        }
    }

    int openTrees() {
        synchronized (assembler) {
            return assembler.open();
        }
    }

    private void sweep() {
        try {
            List<SessionAssembler.Closed<Message<byte[]>>> closed;
            synchronized (assembler) {
                closed = assembler.sweep(System.currentTimeMillis());
            }
            closed.forEach(this::publish);
        } catch (RuntimeException e) {
            LOG.error("sweeping the captured sessions failed", e);
        }
    }

    /**
     * Publishes a closed tree's trajectories to raw, then acknowledges its records; records that could not be
     * assembled are acknowledged at once, counted by why. A failed publication is retried: its records stay
     * unacknowledged until it succeeds, so nothing is committed past them.
     */
    private void publish(SessionAssembler.Closed<Message<byte[]>> c) {
        if (c.trajectories().isEmpty()) {
            if (!c.why().equals("empty")) {
                LOG.warnf("a captured record of tree %s could not be assembled: %s", c.treeId(), c.why());
            }
            count(c.why(), c.handles().size());
            c.handles().forEach(Message::ack);
            return;
        }
        registry.counter("katmesh.reward.capture.trees", "why", c.why()).increment();
        if (c.missing() > 0) {
            LOG.warnf("tree %s ended naming %d requests its log does not hold", c.treeId(), c.missing());
            count("missing", c.missing());
        }
        List<Uni<Void>> sends = new ArrayList<>();
        int requests = 0;
        for (Trajectory t : c.trajectories()) {
            requests += t.getCapturedRequestIdsCount();
            OutgoingKafkaRecordMetadata<String> meta = OutgoingKafkaRecordMetadata.<String>builder()
                    .withKey(t.getGroupId())
                    .withHeaders(RecordHeaders.trajectory(t.getTrajectoryId()))
                    .build();
            sends.add(Uni.createFrom().deferred(() -> raw.sendMessage(Message.of(t.toByteArray(), Metadata.of(meta)))));
        }
        int assembled = requests;
        Uni.join()
                .all(sends)
                .andFailFast()
                .onFailure()
                .retry()
                .withBackOff(Duration.ofSeconds(1), Duration.ofSeconds(30))
                .atMost(20)
                .subscribe()
                .with(
                        ok -> {
                            count("assembled", assembled);
                            c.handles().forEach(Message::ack);
                        },
                        e -> LOG.errorf(
                                "tree %s could not be published to raw; its records stay uncommitted: %s",
                                c.treeId(), e));
    }

    private void count(String outcome, int n) {
        registry.counter("katmesh.reward.capture.requests", "outcome", outcome).increment(n);
    }

    void stop(@Observes ShutdownEvent e) {
        sweeper.shutdownNow();
    }
}
