package dev.katmesh.rollout;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RecordHeaders;
import dev.katmesh.sandbox.Sandboxes;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.Episode;
import dev.katmesh.tasks.RolloutSupervisor;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.jboss.logging.Logger;

/**
 * Reads katmesh.tasks and rolls each task of the configured splits out as a group of episodes against
 * the inference service, publishing every trajectory to katmesh.trajectories.rollout keyed by its group.
 *
 * <p>A task record is acknowledged once every trajectory of its group (tree branches included) is on
 * the broker; groups run concurrently and finish out of order (throttled commits keep the offsets
 * right). An episode that crashes is retried; after the last attempt it is published as failed
 * (metadata end_reason=failed): never lost.
 */
@ApplicationScoped
@Startup // its meters exist from the start, before the first task
public class RolloutRunner {

    private static final Logger LOG = Logger.getLogger(RolloutRunner.class);

    @Inject
    RolloutSettings settings;

    @Inject
    PolicyClient policy;

    @Inject
    MeterRegistry registry;

    @Inject
    SupervisionRules rules;

    @Inject
    @Channel("trajectories-rollout")
    MutinyEmitter<byte[]> trajectories;

    private AgentTools tools;
    private ExecutorService episodes;
    private Semaphore groups;
    private Timer episodeTime;

    @PostConstruct
    void init() {
        tools = new AgentTools(Sandboxes.fromEnvironment(System.getenv()), settings.bashTimeout());
        episodes = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "katmesh-episode");
            t.setDaemon(true);
            return t;
        });
        // Groups in flight at most: enough to keep the episode limit busy, bounded so tasks are not hoarded.
        groups = new Semaphore(Math.max(1, settings.concurrency().max()));
        for (String reason : new String[] {"unreadable", "split"}) { // at zero: seen before the first skip
            registry.counter("katmesh.rollout.tasks.skipped", "reason", reason);
        }
        episodeTime = Timer.builder("katmesh.rollout.episode")
                .description("Wall time of an episode")
                .register(registry);
    }

    @Incoming("tasks")
    public Uni<Void> onTask(Message<byte[]> record) {
        Task task;
        try {
            task = Task.parseFrom(record.getPayload());
        } catch (InvalidProtocolBufferException e) {
            registry.counter("katmesh.rollout.tasks.skipped", "reason", "unreadable")
                    .increment();
            LOG.warnf("skipping an unreadable record on katmesh.tasks: %s", e.getMessage());
            return Uni.createFrom().completionStage(record.ack());
        }
        if (!settings.splits().contains(task.getSplit().isEmpty() ? "train" : task.getSplit())) {
            registry.counter("katmesh.rollout.tasks.skipped", "reason", "split").increment();
            return Uni.createFrom().completionStage(record.ack());
        }
        Task t = task;
        // Returns once the group is started (waiting for a group slot off the event loop): groups overlap.
        return Uni.createFrom()
                .item(() -> {
                    groups.acquireUninterruptibly();
                    CompletableFuture.runAsync(
                            () -> {
                                try {
                                    runGroup(t);
                                    record.ack();
                                } catch (RuntimeException e) {
                                    LOG.errorf(
                                            e,
                                            "task %s: the group could not be published; the task will be redelivered",
                                            t.getTaskId());
                                } finally {
                                    groups.release();
                                }
                            },
                            episodes);
                    return null;
                })
                .runSubscriptionOn(episodes)
                .replaceWithVoid();
    }

    /** N episodes of a task, tree branches included; returns when all are published. */
    void runGroup(Task task) {
        String group = task.getTaskId() + "-g" + UUID.randomUUID().toString().substring(0, 8);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int i = 0; i < settings.groupSize(); i++) {
            String id = group + "-" + i;
            long seed = (group + i).hashCode() * 31L + i;
            synchronized (all) {
                all.add(CompletableFuture.runAsync(() -> episode(task, group, id, seed, all), episodes));
            }
        }
        // Branches add futures while the first ones run: wait until the list stops growing.
        for (int done = 0; done < size(all); done++) {
            join(all, done);
        }
        registry.counter("katmesh.rollout.groups").increment();
    }

    private static int size(List<CompletableFuture<Void>> all) {
        synchronized (all) {
            return all.size();
        }
    }

    private static void join(List<CompletableFuture<Void>> all, int i) {
        CompletableFuture<Void> f;
        synchronized (all) {
            f = all.get(i);
        }
        f.join();
    }

    /** One episode with its retries; its branches are added to {@code all}. */
    private void episode(Task task, String group, String id, long seed, List<CompletableFuture<Void>> all) {
        Episode e = null;
        String failure = null;
        for (int attempt = 1; attempt <= settings.attempts(); attempt++) {
            try {
                e = Episode.start(task, id, group, seed + attempt);
                failure = null;
                run(e, null, all);
                break;
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                failure = "interrupted";
                break;
            } catch (Exception ex) {
                failure = String.valueOf(ex);
                LOG.warnf("episode %s failed (attempt %d of %d): %s", id, attempt, settings.attempts(), ex);
                registry.counter("katmesh.rollout.episodes.crashed").increment();
                if (e != null && attempt < settings.attempts()) {
                    e.cleanUp();
                }
            }
        }
        if (e != null) {
            publish(e, failure);
        }
    }

    /** Runs {@code e} to its end, supervised (continuing {@code watch}, a branch's parent's, when given). */
    private void run(Episode e, RolloutSupervisor watch, List<CompletableFuture<Void>> all) throws Exception {
        List<Integer> branchTurns = settings.tree().branchTurns().orElse(List.of());
        int maxTurns = e.turnLimit(settings.maxTurns());
        long t0 = System.nanoTime();
        long deadline = t0 + settings.episodeTimeout().toNanos();
        Episode.Budget budget = new Episode.Budget(
                settings.maxNewTokens(), settings.maxContextTokens(), settings.temperature(), settings.topP());
        EpisodeSupervision supervision = new EpisodeSupervision(e, watch, rules, registry);
        policy.limit().acquire();
        try {
            while (e.turn(policy, tools, budget, maxTurns, deadline)) {
                if (supervision.afterTurn()) {
                    e.stop("deviated");
                    break;
                }
                if (e.tree == null && branchTurns.contains(e.turns)) {
                    for (int k = 1; k < settings.tree().branchFactor(); k++) {
                        Episode branch = e.fork(e.trajectoryId + "-b" + e.turns + "." + k, e.seed * 7919L + k);
                        RolloutSupervisor inherited = supervision.copy();
                        synchronized (all) {
                            all.add(CompletableFuture.runAsync(
                                    () -> {
                                        try {
                                            run(branch, inherited, all);
                                            publish(branch, null);
                                        } catch (Exception ex) {
                                            publish(branch, String.valueOf(ex));
                                        }
                                    },
                                    episodes));
                        }
                    }
                }
            }
        } finally {
            policy.limit().release();
            episodeTime.record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
            supervision.note();
        }
        registry.counter("katmesh.rollout.episodes", "end", e.endReason).increment();
    }

    private void publish(Episode e, String failure) {
        try {
            Trajectory t = e.trajectory(failure);
            OutgoingKafkaRecordMetadata<String> meta = OutgoingKafkaRecordMetadata.<String>builder()
                    .withKey(t.getGroupId())
                    .withHeaders(RecordHeaders.trajectory(t.getTrajectoryId()))
                    .build();
            trajectories
                    .sendMessage(Message.of(t.toByteArray(), Metadata.of(meta)))
                    .await()
                    .atMost(Duration.ofMinutes(2));
            registry.counter("katmesh.rollout.trajectories.published", "failed", Boolean.toString(failure != null))
                    .increment();
        } finally {
            e.cleanUp();
        }
    }

    @PreDestroy
    void stop() {
        episodes.shutdownNow();
    }
}
