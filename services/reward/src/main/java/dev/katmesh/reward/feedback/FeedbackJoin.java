package dev.katmesh.reward.feedback;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.KafkaClientSettings;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.proto.wire.Topics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * Late feedback (docs/algorithms.md, "Late feedback"): with a window set, a deployed trajectory's score is held on
 * katmesh.feedback.join instead of going to the learner ({@link #hold}), joined there with the verdicts its senders
 * bring for its session (those that may rate its agent, {@link FeedbackScopes}), and released — re-scored with them —
 * on a final verdict or at the window's end; verdicts that come after the release re-score it once more as a revision
 * ({@link JoinState}, {@link JoinLoop}). Without a window (the default) nothing is held and no verdict is read.
 */
@ApplicationScoped
public class FeedbackJoin {

    private static final Logger LOG = Logger.getLogger(FeedbackJoin.class);

    private final Duration window;
    private final double weight;
    private final FeedbackScopes scopes;
    private final Map<String, Object> kafkaConfig;
    private final MeterRegistry registry;
    private final Counter held;
    private volatile KafkaProducer<String, byte[]> holds;
    private volatile int partitions;
    private volatile JoinLoop loop;

    @Inject
    public FeedbackJoin(
            MeterRegistry registry,
            @Identifier("default-kafka-broker") Map<String, Object> kafkaConfig,
            // How long a deployed trajectory waits for its feedback before it is scored without it, and how long a
            // released one takes late feedback (a revision) after; 0 turns late feedback off (nothing held).
            @ConfigProperty(name = "katmesh.reward.feedback.window", defaultValue = "0s") Duration window,
            // The feedback component's weight in the reward.
            @ConfigProperty(name = "katmesh.reward.weight.feedback", defaultValue = "1.0") double weight,
            // Whom each sender may rate: sender=glob[,glob...] over agent ids, ';' between senders (FeedbackScopes).
            // "shared" is katmesh.feedback; a sender named here reads from katmesh.feedback.from.<sender>. A sender not
            // named may rate nothing.
            @ConfigProperty(name = "katmesh.reward.feedback.senders", defaultValue = FeedbackScopes.DEFAULT)
                    String senders) {
        if (window.isNegative()) {
            throw new IllegalArgumentException("katmesh.reward.feedback.window is 0 (off) or positive: " + window);
        }
        this.window = window;
        this.weight = weight;
        this.scopes = FeedbackScopes.parse(senders);
        this.kafkaConfig = kafkaConfig;
        this.registry = registry;
        this.held = Counter.builder("katmesh.reward.feedback.held")
                .description("Deployed trajectories scored and held on katmesh.feedback.join for their feedback")
                .register(registry);
    }

    /** The join's loop (null when off or not started yet), for its health. */
    JoinLoop loop() {
        return loop;
    }

    Duration window() {
        return window;
    }

    /** Whether deployed trajectories wait for feedback. */
    public boolean enabled() {
        return !window.isZero();
    }

    /** Whether {@code scored} is held for feedback rather than published at once: deployed ones, with a window. */
    public boolean holds(ScoredTrajectory scored) {
        return enabled() && scored.getTrajectory().getSource() == TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED;
    }

    void onStart(@Observes StartupEvent started) {
        if (!enabled()) {
            return;
        }
        Properties p = KafkaClientSettings.recordProducer(kafkaConfig, "katmesh-reward-feedback-holds");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        holds = new KafkaProducer<>(p);
        loop = new JoinLoop(kafkaConfig, window.toMillis(), weight, scopes, registry);
        Thread t = new Thread(loop, "katmesh-feedback-join");
        t.setDaemon(true);
        t.start();
        LOG.infof(
                "late feedback on: deployed trajectories wait up to %s for verdicts; senders' scopes %s",
                window, scopes);
    }

    void onStop(@Observes ShutdownEvent stopped) {
        if (loop != null) {
            loop.stop();
        }
        if (holds != null) {
            holds.close(Duration.ofSeconds(10));
        }
    }

    /**
     * Holds a deployed trajectory's score on katmesh.feedback.join (its session's partition); completes when the
     * broker has it (acks=all), after which its raw record may be committed.
     *
     * @param publishedMs when its raw record was published; {@code rawPosition} where it is (null: unknown)
     */
    public CompletableFuture<Void> hold(ScoredTrajectory scored, long publishedMs, String rawPosition) {
        String id = scored.getTrajectory().getTrajectoryId();
        String key = JoinEntry.joinKey(scored.getTrajectory().getSessionId(), id);
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            int n = partitions;
            if (n == 0) {
                n = partitions = holds.partitionsFor(Topics.FEEDBACK_JOIN).size();
            }
            var headers = JoinEntry.headers(key, JoinEntry.HELD, System.currentTimeMillis());
            JoinEntry.add(headers, RecordHeaders.PUBLISHED_MS, Long.toString(publishedMs));
            JoinEntry.add(headers, RecordHeaders.RAW_POSITION, rawPosition);
            holds.send(
                    new ProducerRecord<>(
                            Topics.FEEDBACK_JOIN,
                            JoinEntry.partition(key, n),
                            JoinEntry.trajectory(id),
                            scored.toByteArray(),
                            headers),
                    (meta, e) -> {
                        if (e == null) {
                            held.increment();
                            done.complete(null);
                        } else {
                            done.completeExceptionally(e);
                        }
                    });
        } catch (RuntimeException e) {
            done.completeExceptionally(e);
        }
        return done;
    }
}
