package dev.katmesh.inference;

import dev.katmesh.capture.CaptureTree;
import dev.katmesh.capture.SessionAssembler;
import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SessionEnd;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.Trajectory;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;
import org.jboss.logging.Logger;

/**
 * Capture of deployed agents' sessions: every request served over the HTTP APIs is placed on its session's prefix
 * tree ({@link SessionTree}) and logged to katmesh.capture.requests before its response completes; a session's end
 * (an explicit end call, an idle timeout, eviction, or the service stopping) is logged after its requests. The
 * reward service assembles the trees from that log into trajectories ({@link SessionAssembler}), so a session
 * served by a process that dies is not lost: what it logged is assembled when the tree is orphaned.
 *
 * <p>DESIGN. No retokenisation drift: a request's prompt is the exact token ids the model saw and sampled on the branch
 * it extends, followed by the tokens of what the agent added since, so the learner trains on exactly the sampled
 * tokens, with their log-probs and policy versions. Requests that run in parallel, retry, or rewrite earlier turns are
 * branches of the tree, never dropped. Each session has its own lock (the tree), under which its records are handed
 * to the producer in the order they were placed; the map of sessions has another. An end waits (a bounded time)
 * for the session's running requests, so that they are logged before it.
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
    @Channel("capture-requests")
    MutinyEmitter<byte[]> log;

    private final Map<String, Session> sessions = new LinkedHashMap<>(16, 0.75f, true); // LRU order; guarded by itself
    private ScheduledExecutorService sweeper;

    /** A turn in progress: its prompt, and how to record its answer. */
    public interface Turn {
        int[] prompt();

        /**
         * Records the answer (the response's id, the completion's tokens, and the assistant message returned); the
         * stage completes when the request is on the capture log, or the write failed (counted).
         */
        CompletionStage<Void> complete(String requestId, Completion c, ChatMessage assistant);

        /** The turn failed: the session stays as it was. */
        void abandon();
    }

    /**
     * What an ended session becomes: the first of its trajectories (one per leaf of its tree), all of them, the
     * tokens of the tree (shared prefixes once), and the requests it holds; the reward service publishes them
     * under these ids.
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
            logEnd(evicted, "evicted");
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
        s.awaitIdle(settings.capture().endWait());
        Ended ended = logEnd(s, "ended");
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
        idle.forEach(s -> logEnd(s, "idle"));
    }

    /**
     * Logs a session's end after its requests (once: a request of it still running completes into a closed tree and
     * is counted as {@code after_end}) and waits briefly for the broker's ack; returns what the session becomes.
     */
    private Ended logEnd(Session s, String why) {
        CaptureEvent end;
        List<Trajectory> leaves;
        synchronized (s.tree) {
            if (s.closed) {
                return new Ended("", List.of(), 0, 0);
            }
            s.closed = true;
            if (s.logged.requests() == 0) {
                return new Ended("", List.of(), 0, 0);
            }
            SessionEnd.Builder e = SessionEnd.newBuilder().setReason(why).setRequests(s.logged.requests());
            if (s.outcome != null) {
                e.setOutcome(s.outcome);
            }
            end = s.event().setEnd(e).build();
            leaves = s.logged.leaves(SessionAssembler.base(end).build());
        }
        try {
            send(s, end).await().atMost(settings.capture().logTimeout());
            metrics.capture(why);
        } catch (RuntimeException e) {
            // The producer retried for delivery.timeout.ms: the reward will find the tree orphaned instead.
            metrics.capture("end_failed");
            LOG.errorf("the end of session %s of agent %s could not be logged: %s", s.sessionId, s.agent, e);
        }
        return new Ended(
                leaves.get(0).getTrajectoryId(),
                leaves.stream().map(Trajectory::getTrajectoryId).toList(),
                CaptureTree.nodes(leaves),
                s.logged.requests());
    }

    /**
     * Hands one event of a session to the producer now, keyed by the session; the Uni completes with the broker's
     * ack. The emitter's Uni is lazy (nothing is sent until it is subscribed): it is subscribed here, so that events
     * handed over under the session's lock reach the producer — and the partition — in that order.
     */
    private Uni<Void> send(Session s, CaptureEvent e) {
        OutgoingKafkaRecordMetadata<String> meta = OutgoingKafkaRecordMetadata.<String>builder()
                .withKey(s.agent + "/" + s.sessionId)
                .build();
        Uni<Void> sent = log.sendMessage(Message.of(e.toByteArray(), Metadata.of(meta)))
                .memoize()
                .indefinitely();
        sent.subscribe().with(ok -> {}, failure -> {}); // outcomes are the callers'
        return sent;
    }

    private Turn uncaptured(int[] prompt) {
        return new Turn() {
            @Override
            public int[] prompt() {
                return prompt;
            }

            @Override
            public CompletionStage<Void> complete(String requestId, Completion c, ChatMessage assistant) {
                return CompletableFuture.completedFuture(null);
            }

            @Override
            public void abandon() {}
        };
    }

    /**
     * Logs the open sessions' ends when the service stops. On the shutdown event, first of its observers: by the time
     * beans are destroyed the messaging layer has cancelled the emitter's subscription, and an event sent then is
     * lost ("SRMSG00028: The subscription ... has been cancelled"); the reward would find those trees orphaned.
     */
    void stop(@Observes @Priority(0) ShutdownEvent event) {
        sweeper.shutdownNow();
        List<Session> open;
        synchronized (sessions) {
            open = new ArrayList<>(sessions.values());
            sessions.clear();
        }
        open.forEach(s -> logEnd(s, "shutdown"));
    }

    /** One agent session: its tree, and what is known of it as a whole. All but lastUsedMs guarded by the tree. */
    private final class Session {
        final String agent;
        final String sessionId;
        final String treeId;
        final SessionTree tree;
        final CaptureTree logged; // what this process logged of the session: the ids its end names
        volatile long lastUsedMs = System.currentTimeMillis();
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
            this.logged = new CaptureTree(treeId);
        }

        CaptureEvent.Builder event() {
            return CaptureEvent.newBuilder()
                    .setTreeId(treeId)
                    .setAgentId(agent)
                    .setSessionId(sessionId)
                    .setModel(server.name())
                    .setAtMs(System.currentTimeMillis());
        }

        boolean running() {
            synchronized (tree) {
                return tree.running();
            }
        }

        /** Waits until no request of the session runs (they finish into the tree before its end), at most {@code max}. */
        void awaitIdle(Duration max) {
            long deadline = System.nanoTime() + max.toNanos();
            synchronized (tree) {
                while (tree.running() && !closed) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return;
                    }
                    try {
                        TimeUnit.NANOSECONDS.timedWait(tree, left);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
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
                public CompletionStage<Void> complete(String requestId, Completion c, ChatMessage assistant) {
                    Uni<Void> sent;
                    long handedOver = System.nanoTime();
                    synchronized (tree) {
                        if (closed) {
                            metrics.capture("after_end");
                            return CompletableFuture.completedFuture(null);
                        }
                        CapturedRequest r = tree.record(
                                placed, requestId, c.tokens(), c.logprobs(), c.versions(), requestMessages, assistant);
                        if (!taskId.isEmpty()) {
                            r = r.toBuilder().setTaskId(taskId).build();
                        }
                        logged.add(r);
                        sent = send(Session.this, event().setRequest(r).build()); // in the tree's order
                        tree.notifyAll();
                    }
                    lastUsedMs = System.currentTimeMillis();
                    return sent.ifNoItem()
                            .after(settings.capture().logTimeout())
                            .fail()
                            .onItemOrFailure()
                            .invoke((v, e) -> {
                                metrics.logged(e == null ? "logged" : "failed", System.nanoTime() - handedOver);
                                if (e != null) {
                                    LOG.errorf(
                                            "request %s of session %s of agent %s could not be logged: %s",
                                            requestId, sessionId, agent, e);
                                }
                            })
                            .onFailure()
                            .recoverWithNull()
                            .subscribeAsCompletionStage();
                }

                @Override
                public void abandon() {
                    synchronized (tree) {
                        tree.abandon(placed);
                        tree.notifyAll();
                    }
                    lastUsedMs = System.currentTimeMillis();
                }
            };
        }
    }
}
