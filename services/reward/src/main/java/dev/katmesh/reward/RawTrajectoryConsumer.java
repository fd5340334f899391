package dev.katmesh.reward;

import dev.katmesh.proto.v1.ScoredTrajectory;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.IncomingKafkaRecordMetadata;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.jboss.logging.Logger;

/**
 * Reads katmesh.trajectories.raw, publishes one ScoredTrajectory per valid record to
 * katmesh.trajectories.scored, and dead-letters the rest with their reason.
 *
 * <p>A raw record is acknowledged (so its offset may be committed) only after the broker acknowledged
 * its scored record or its dead-letter record: a crash in between replays it, never loses it.
 */
@ApplicationScoped
public class RawTrajectoryConsumer {

    /** Header naming the {@link RejectReason} on a dead-letter record. */
    public static final String REJECT_REASON_HEADER = "katmesh-reject-reason";

    private static final Logger LOG = Logger.getLogger(RawTrajectoryConsumer.class);

    private final RawTrajectoryDecoder decoder;
    private final PlaceholderScorer scorer = new PlaceholderScorer(Clock.systemUTC());
    private final MutinyEmitter<byte[]> scored;
    private final MeterRegistry registry;
    private final Counter scoredCounter;
    private final Counter ignoredFields;

    @Inject
    public RawTrajectoryConsumer(
            @Channel("trajectories-scored") MutinyEmitter<byte[]> scored,
            MeterRegistry registry,
            // Largest raw record accepted; keep it at or below the topic's max.message.bytes.
            @ConfigProperty(name = "katmesh.reward.max-record-bytes", defaultValue = "8388608") int maxRecordBytes) {
        this.scored = scored;
        this.registry = registry;
        this.decoder = new RawTrajectoryDecoder(maxRecordBytes);
        this.scoredCounter = Counter.builder("katmesh.reward.scored")
                .description("Trajectories scored and published to katmesh.trajectories.scored")
                .register(registry);
        this.ignoredFields = Counter.builder("katmesh.reward.ignored.agent.fields")
                .description("Reward, mask and advantage fields set by agents: ignored, never trusted")
                .register(registry);
    }

    @Incoming("trajectories-raw")
    public Uni<Void> onRaw(Message<byte[]> raw) {
        RawTrajectoryDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(raw.getPayload(), header(raw, "content-type"));
        } catch (RejectedTrajectoryException e) {
            return reject(raw, e);
        } catch (RuntimeException e) {
            LOG.errorf(e, "unexpected failure decoding a raw trajectory at %s", position(raw));
            return reject(raw, new RejectedTrajectoryException(RejectReason.INTERNAL, String.valueOf(e)));
        }
        ScoredTrajectory result = scorer.score(decoded.trajectory(), decoded.ignoredAgentFields().size());
        ignoredFields.increment(decoded.ignoredAgentFields().size());
        OutgoingKafkaRecordMetadata<String> out = OutgoingKafkaRecordMetadata.<String>builder()
                .withKey(result.getTrajectory().getGroupId())
                .withHeaders(new RecordHeaders()
                        .add("content-type", RawTrajectoryDecoder.PROTOBUF.getBytes(StandardCharsets.UTF_8))
                        .add("katmesh-trajectory-id", result.getTrajectory().getTrajectoryId().getBytes(StandardCharsets.UTF_8)))
                .build();
        return scored.sendMessage(Message.of(result.toByteArray(), Metadata.of(out)))
                .invoke(() -> scoredCounter.increment())
                .chain(() -> Uni.createFrom().completionStage(raw.ack()));
    }

    private Uni<Void> reject(Message<byte[]> raw, RejectedTrajectoryException e) {
        LOG.warnf("dead-lettering the record at %s: %s", position(raw), e.getMessage());
        registry.counter("katmesh.reward.rejected", "reason", e.reason().name()).increment();
        OutgoingKafkaRecordMetadata<?> dlq = OutgoingKafkaRecordMetadata.builder()
                .withHeaders(new RecordHeaders().add(REJECT_REASON_HEADER, e.reason().name().getBytes(StandardCharsets.UTF_8)))
                .build();
        return Uni.createFrom().completionStage(raw.nack(e, Metadata.of(dlq)));
    }

    private static String header(Message<byte[]> raw, String name) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> m.getHeaders().lastHeader(name))
                .map(Header::value)
                .map(v -> new String(v, StandardCharsets.UTF_8))
                .orElse(null);
    }

    private static String position(Message<byte[]> raw) {
        return raw.getMetadata(IncomingKafkaRecordMetadata.class)
                .map(m -> m.getTopic() + "-" + m.getPartition() + "@" + m.getOffset())
                .orElse("?");
    }
}
