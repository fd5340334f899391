package dev.katmesh.inference;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
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
import java.util.Arrays;
import java.util.HashMap;
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
 * Capture of deployed agents' sessions: every conversation served over the OpenAI API becomes a
 * Trajectory on katmesh.trajectories.raw when it ends (an explicit end call, an idle timeout, or the
 * service stopping).
 *
 * <p>DESIGN. No retokenisation drift: a session keeps the exact token ids the model has seen and
 * sampled. A new turn's prompt is those ids followed by the tokens of what the agent added since
 * (the chat template's rendering of the new conversation, minus the text of the session so far), so
 * the model is fed — and the learner trains on — exactly the sampled tokens, with their log-probs and
 * policy versions. When the agent's history no longer extends the session's text (it edited or
 * reformatted earlier turns), the session so far is published and a new one starts from the new
 * conversation. Concurrent requests of one session are served but not captured (counted as busy).
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

    /** What an ended session became. */
    public record Ended(String trajectoryId, int tokens, int turns) {}

    @PostConstruct
    void start() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "katmesh-session-sweeper");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    }

    /** Begins a turn of {@code agent}'s session (or an uncaptured one when capture is off or the session is busy). */
    public Turn begin(
            String agent, String sessionId, String taskId, List<ChatMessage> messages, List<ToolSchema> tools) {
        String text = server.render(messages, tools, true);
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
            if (s.busy) {
                metrics.capture("busy");
                return uncaptured(server.model().tokenizer().encode(text));
            }
            s.busy = true;
            if (taskId != null && !taskId.isBlank()) {
                s.taskId = taskId;
            }
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
        if (s == null || s.turns == 0) {
            return Optional.empty();
        }
        s.outcome = outcome;
        return Optional.of(publish(s, "ended"));
    }

    private Session evictOldestIdle() {
        for (Map.Entry<String, Session> e : sessions.entrySet()) {
            if (!e.getValue().busy) {
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
                boolean gone = !s.busy && now - s.lastUsedMs >= idleMs;
                if (gone) {
                    idle.add(s);
                }
                return gone;
            });
        }
        idle.forEach(s -> publish(s, "idle"));
    }

    /** Publishes a session's trajectory (when it has a turn) and waits briefly for the broker's ack. */
    private Ended publish(Session s, String why) {
        if (s.turns == 0) {
            return new Ended("", 0, 0);
        }
        Trajectory t = s.trajectory();
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
                    "session %s of agent %s (%d tokens) could not be published: %s",
                    s.sessionId, s.agent, t.getTokenIdsCount(), e);
        }
        return new Ended(t.getTrajectoryId(), t.getTokenIdsCount(), s.turns);
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

    /** One agent session's tokens so far. */
    private final class Session {
        final String agent;
        final String sessionId;
        String trajectoryId;
        int[] tokens = new int[0];
        final List<TokenSegment> segments = new ArrayList<>();
        List<ChatMessage> messages = List.of();
        List<ToolSchema> tools = List.of();
        int turns;
        String taskId = "";
        Outcome outcome; // what the agent reported when it ended the session, if anything
        long createdMs = System.currentTimeMillis();
        volatile long lastUsedMs = createdMs;
        volatile boolean busy; // written under the sessions lock, or by the turn that owns it

        Session(String agent, String sessionId) {
            this.agent = agent;
            this.sessionId = sessionId;
            this.trajectoryId = newId();
        }

        String newId() {
            return sessionId + "-" + UUID.randomUUID().toString().substring(0, 8);
        }

        Turn turn(String text, List<ChatMessage> requestMessages, List<ToolSchema> requestTools) {
            int[] prompt;
            int start;
            Optional<int[]> extended =
                    tokens.length == 0 || !requestTools.equals(tools) ? Optional.empty() : server.extend(tokens, text);
            if (extended.isPresent()) {
                prompt = extended.get();
                start = tokens.length;
            } else {
                if (tokens.length > 0) { // the agent's history no longer extends this session: publish it, start anew
                    Session done = copy();
                    publish(done, "forked");
                    reset();
                }
                prompt = server.model().tokenizer().encode(text);
                start = 0;
            }
            int[] fed = prompt;
            return new Turn() {
                @Override
                public int[] prompt() {
                    return fed;
                }

                @Override
                public void complete(Completion c, ChatMessage assistant) {
                    try {
                        record(fed, start, c, requestMessages, requestTools, assistant);
                    } finally {
                        release();
                    }
                }

                @Override
                public void abandon() {
                    release();
                }
            };
        }

        private void record(
                int[] prompt,
                int start,
                Completion c,
                List<ChatMessage> requestMessages,
                List<ToolSchema> requestTools,
                ChatMessage assistant) {
            int lastMessage = requestMessages.size() - 1;
            if (prompt.length > start) {
                segments.add(TokenSegment.newBuilder()
                        .setStart(start)
                        .setEnd(prompt.length)
                        .setMessageIndex(lastMessage)
                        .build());
            }
            int[] generated = c.tokens();
            float[] lps = c.logprobs();
            long[] versions = c.versions();
            int at = 0;
            while (at < generated.length) { // one segment per run of tokens from one policy version
                int end = at;
                TokenSegment.Builder seg = TokenSegment.newBuilder()
                        .setGenerated(true)
                        .setPolicyVersion(versions[at])
                        .setMessageIndex(requestMessages.size());
                while (end < generated.length && versions[end] == versions[at]) {
                    seg.addLogprobs(lps[end]);
                    end++;
                }
                segments.add(seg.setStart(prompt.length + at)
                        .setEnd(prompt.length + end)
                        .build());
                at = end;
            }
            tokens = Arrays.copyOf(prompt, prompt.length + generated.length);
            System.arraycopy(generated, 0, tokens, prompt.length, generated.length);
            List<ChatMessage> all = new ArrayList<>(requestMessages);
            all.add(assistant);
            messages = all;
            tools = List.copyOf(requestTools);
            turns++;
        }

        private void release() {
            lastUsedMs = System.currentTimeMillis();
            busy = false;
        }

        private Session copy() {
            Session s = new Session(agent, sessionId);
            s.trajectoryId = trajectoryId;
            s.taskId = taskId;
            s.tokens = tokens;
            s.segments.addAll(segments);
            s.messages = messages;
            s.tools = tools;
            s.turns = turns;
            s.createdMs = createdMs;
            return s;
        }

        private void reset() {
            trajectoryId = newId();
            tokens = new int[0];
            segments.clear();
            messages = List.of();
            tools = List.of();
            turns = 0;
            createdMs = System.currentTimeMillis();
        }

        Trajectory trajectory() {
            Trajectory.Builder t = Trajectory.newBuilder()
                    .setTrajectoryId(trajectoryId)
                    .setGroupId(sessionId)
                    .setSessionId(sessionId)
                    .setTaskId(taskId)
                    .setAgentId(agent)
                    .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                    .setModel(server.name())
                    .setCreatedAtMs(createdMs)
                    .addAllMessages(messages)
                    .addAllTools(tools)
                    .addAllSegments(segments)
                    .putMetadata("captured_by", "katmesh-inference")
                    .putMetadata("turns", Integer.toString(turns));
            for (int id : tokens) {
                t.addTokenIds(id);
            }
            if (outcome != null) {
                t.setOutcome(outcome);
            }
            Map<String, ToolCall> calls = new HashMap<>();
            for (int i = 0; i < messages.size(); i++) {
                ChatMessage m = messages.get(i);
                m.getToolCallsList().forEach(call -> calls.put(call.getId(), call));
                if (m.getRole().equals("tool")) {
                    ToolCall call = calls.get(m.getToolCallId());
                    t.addSteps(ToolStep.newBuilder()
                            .setMessageIndex(i)
                            .setToolCallId(m.getToolCallId())
                            .setToolName(call == null ? m.getName() : call.getName())
                            .setArguments(call == null ? "" : call.getArguments())
                            .setOutput(m.getContent()));
                }
            }
            return t.build();
        }
    }
}
