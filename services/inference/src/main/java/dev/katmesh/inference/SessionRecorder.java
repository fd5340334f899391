package dev.katmesh.inference;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.RecordHeaders;
import io.quarkus.runtime.ShutdownEvent;
import io.smallrye.mutiny.Uni;
import io.smallrye.reactive.messaging.MutinyEmitter;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.jboss.logging.Logger;

/**
 * Capture of deployed agents' sessions: every request served over the HTTP APIs becomes part of its session's prefix
 * tree ({@link SessionTree}), published to katmesh.trajectories.raw as the tree's leaves when the session ends (an
 * explicit end call, an idle timeout, eviction, or the service stopping).
 *
 * <p>DESIGN. No retokenisation drift: a request's prompt is the exact token ids the model saw and sampled on the branch
 * it extends, followed by the tokens of what the agent added since, so the learner trains on exactly the sampled
 * tokens, with their log-probs and policy versions. Requests that run in parallel, retry, or rewrite earlier turns are
 * branches of the tree, never dropped. Each session has its own lock (the tree); the map of sessions has another.
 */
@ApplicationScoped
public class SessionRecorder {

    private static final Logger LOG = Logger.getLogger(SessionRecorder.class);

    /** The header naming a session; without it a session is keyed by the API key's agent id. */
    public static final String SESSION_HEADER = "x-katmesh-session-id";

    /**
     * The header naming the task a session works on (a task on katmesh.tasks): the captured trajectory
     * carries it, so the reward runs that task's tests on the agent's submission.
     */
    public static final String TASK_HEADER = "x-katmesh-task-id";

    @Inject
    PolicyServer server;

    @Inject
    InferenceSettings settings;

    @Inject
    ServingMetrics metrics;

    @Inject
    @Channel("trajectories-raw")
    MutinyEmitter<byte[]> raw;

    private final Map<String, Session> sessions = new LinkedHashMap<>(16, 0.75f, true); // LRU order; guarded by itself
    private ScheduledExecutorService sweeper;

    /** A turn in progress: its prompt, and how to record its answer. */
    public interface Turn {
        int[] prompt();

        /** Records the answer (the completion's tokens, and the assistant message returned). */
        void complete(Completion c, ChatMessage assistant);

        /** The turn failed: the session stays as it was. */
        void abandon();
    }

    /**
     * What an ended session became: the first of its trajectories (one per leaf of its tree), all of them, the
     * tokens of the tree (shared prefixes once), and the requests it holds.
     */
    public record Ended(String trajectoryId, List<String> trajectoryIds, int tokens, int turns) {}

    @PostConstruct
    void start() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "katmesh-session-sweeper");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    }

    /**
     * Begins a turn of {@code agent}'s session: placed on the session's tree, or uncaptured when capture is off or the
     * tree is at {@code capture.max-branches}.
     */
    public Turn begin(
            String agent,
            String sessionId,
            String taskId,
            List<ChatMessage> messages,
            List<ToolSchema> tools,
            Map<String, Object> templateVariables) {
        String text = server.render(messages, tools, true, templateVariables);
        if (!settings.capture().enabled()) {
            return uncaptured(server.model().tokenizer().encode(text));
        }
        String sid = sessionId == null || sessionId.isBlank() ? agent : sessionId;
        String key = agent + "\u0000" + sid;
        Session s;
        Session evicted = null;
        synchronized (sessions) {
            s = sessions.get(key);
            if (s == null) {
                if (sessions.size() >= settings.capture().maxSessions()) {
                    evicted = evictOldestIdle();
                }
                s = new Session(agent, sid);
                sessions.put(key, s);
            }
            if (taskId != null && !taskId.isBlank()) {
                s.taskId = taskId;
            }
            s.lastUsedMs = System.currentTimeMillis();
        }
        if (evicted != null) {
            publish(evicted, "evicted");
        }
        return s.turn(text, messages, tools);
    }

    /** Ends a session now; empty when it does not exist (or has nothing to publish). */
    public Optional<Ended> end(String agent, String sessionId, Outcome outcome) {
        Session s;
        synchronized (sessions) {
            s = sessions.remove(agent + "\u0000" + sessionId);
        }
        if (s == null) {
            return Optional.empty();
        }
        s.outcome = outcome;
        Ended ended = publish(s, "ended");
        return ended.trajectoryIds().isEmpty() ? Optional.empty() : Optional.of(ended);
    }

    private Session evictOldestIdle() {
        for (Map.Entry<String, Session> e : sessions.entrySet()) {
            if (!e.getValue().running()) {
                sessions.remove(e.getKey());
                return e.getValue();
            }
        }
        return null;
    }

    private void sweep() {
        long idleMs = settings.capture().idleTimeout().toMillis();
        List<Session> idle = new ArrayList<>();
        synchronized (sessions) {
            long now = System.currentTimeMillis();
            sessions.values().removeIf(s -> {
                boolean gone = !s.running() && now - s.lastUsedMs >= idleMs;
                if (gone) {
                    idle.add(s);
                }
                return gone;
            });
        }
        idle.forEach(s -> publish(s, "idle"));
    }

    /**
     * Publishes a session's tree, one record per leaf, and waits briefly for the broker's acks. A session is published
     * once: a request of it still running completes into a closed tree and is counted as {@code after_end}.
     */
    private Ended publish(Session s, String why) {
        List<Trajectory> leaves = s.close();
        if (leaves.isEmpty()) {
            return new Ended("", List.of(), 0, 0);
        }
        for (Trajectory t : leaves) {
            OutgoingKafkaRecordMetadata<String> meta = OutgoingKafkaRecordMetadata.<String>builder()
                    .withKey(t.getGroupId())
                    .withHeaders(RecordHeaders.trajectory(t.getTrajectoryId()))
                    .build();
            Uni<Void> sent = raw.sendMessage(Message.of(t.toByteArray(), Metadata.of(meta)));
            try {
                sent.await().atMost(Duration.ofSeconds(30));
                metrics.capture(why);
            } catch (RuntimeException e) {
                // Kafka's producer already retried for delivery.timeout.ms: record the loss loudly.
                metrics.capture("failed");
                LOG.errorf(
                        "trajectory %s of session %s of agent %s (%d tokens) could not be published: %s",
                        t.getTrajectoryId(), s.sessionId, s.agent, t.getTokenIdsCount(), e);
            }
        }
        return new Ended(
                leaves.get(0).getTrajectoryId(),
                leaves.stream().map(Trajectory::getTrajectoryId).toList(),
                SessionTree.nodes(leaves),
                Integer.parseInt(leaves.get(0).getMetadataOrDefault("tree_requests", "0")));
    }

    private Turn uncaptured(int[] prompt) {
        return new Turn() {
            @Override
            public int[] prompt() {
                return prompt;
            }

            @Override
            public void complete(Completion c, ChatMessage assistant) {}

            @Override
            public void abandon() {}
        };
    }

    /**
     * Publishes the open sessions when the service stops. On the shutdown event, first of its observers: by the time
     * beans are destroyed the messaging layer has cancelled the emitter's subscription, and a session published
     * then is lost ("SRMSG00028: The subscription ... has been cancelled").
     */
    void stop(@Observes @Priority(0) ShutdownEvent event) {
        sweeper.shutdownNow();
        List<Session> open;
        synchronized (sessions) {
            open = new ArrayList<>(sessions.values());
            sessions.clear();
        }
        open.forEach(s -> publish(s, "shutdown"));
    }

    /** One agent session: its tree, and what is known of it as a whole. All but lastUsedMs guarded by the tree. */
    private final class Session {
        final String agent;
        final String sessionId;
        final String treeId;
        final SessionTree tree;
        final long createdMs = System.currentTimeMillis();
        volatile long lastUsedMs = createdMs;
        String taskId = ""; // written under the sessions lock
        Outcome outcome; // what the agent reported when it ended the session, if anything
        boolean closed;

        Session(String agent, String sessionId) {
            this.agent = agent;
            this.sessionId = sessionId;
            this.treeId = sessionId + "-" + UUID.randomUUID().toString().substring(0, 8);
            this.tree = new SessionTree(
                    server.model().tokenizer()::encode,
                    server.model().tokenizer()::decode,
                    settings.capture().maxBranches());
        }

        boolean running() {
            synchronized (tree) {
                return tree.running();
            }
        }

        Turn turn(String text, List<ChatMessage> requestMessages, List<ToolSchema> requestTools) {
            SessionTree.Placement placed;
            boolean late;
            synchronized (tree) {
                late = closed;
                placed = late ? null : tree.place(text, requestTools);
            }
            if (placed == null) {
                metrics.capture(late ? "after_end" : "tree_full");
                return uncaptured(server.model().tokenizer().encode(text));
            }
            return new Turn() {
                @Override
                public int[] prompt() {
                    return placed.prompt();
                }

                @Override
                public void complete(Completion c, ChatMessage assistant) {
                    boolean late;
                    synchronized (tree) {
                        late = closed;
                        if (!late) {
                            tree.record(placed, c.tokens(), c.logprobs(), c.versions(), requestMessages, assistant);
                        }
                    }
                    if (late) {
                        metrics.capture("after_end");
                    }
                    lastUsedMs = System.currentTimeMillis();
                }

                @Override
                public void abandon() {
                    synchronized (tree) {
                        tree.abandon(placed);
                    }
                    lastUsedMs = System.currentTimeMillis();
                }
            };
        }

        /** Closes the session: its leaves as trajectories (none when it recorded nothing). */
        List<Trajectory> close() {
            Trajectory.Builder base = Trajectory.newBuilder()
                    .setGroupId(sessionId)
                    .setSessionId(sessionId)
                    .setAgentId(agent)
                    .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                    .setModel(server.name())
                    .setCreatedAtMs(createdMs)
                    .putMetadata("captured_by", "katmesh-inference");
            synchronized (tree) {
                closed = true;
                base.setTaskId(taskId);
                if (outcome != null) {
                    base.setOutcome(outcome);
                }
                return tree.requests() == 0 ? List.of() : tree.leaves(base.build(), treeId);
            }
        }
    }
}
