package dev.katmesh.tasks;

import dev.katmesh.proto.json.ToolCallSyntax;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.v1.TreeLink;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * One agent episode on a task: the multi-turn loop of the policy's tool calls, run in a sandboxed
 * workspace, with the observations fed back, until the agent submits, the turns or tokens run out, or
 * time is up. The context is kept as the exact token ids the model saw and sampled: each turn appends
 * only what the new messages add ({@link AgentPolicy#continuation}), so the trajectory's generated segments
 * carry the tokens, behaviour log-probs and policy versions of the samples themselves.
 *
 * <p>An episode can {@link #fork} at a turn boundary: the copy shares the token prefix and continues on
 * its own workspace copy with other seeds, and records its parent and branch point (tree rollouts).
 */
public final class Episode {

    /** How much an episode may generate: tokens per turn, the context, and the sampling. */
    public record Budget(int maxNewTokens, int maxContextTokens, float temperature, float topP) {}

    /** The nudge when a turn holds no tool call: the loop needs one to make progress. */
    public static final String NO_CALL = "No tool call was found. Use the tools (bash, write_file, read_file, submit) "
            + "with the <tool_call> syntax; submit the solution file when the tests pass.";

    public final Task task;
    public final String trajectoryId;
    final String groupId;
    public final Path workspace;
    public final long seed;
    final List<ChatMessage> messages = new ArrayList<>();
    final List<ToolStep> steps = new ArrayList<>();
    final List<TokenSegment> segments = new ArrayList<>();
    int[] tokens = new int[0];
    int renderedMessages; // messages whose text the tokens hold
    public int turns;
    public String submittedPath = "";
    public String endReason = "";
    public TreeLink tree;
    /** Who ran it (the trajectory's agent id). */
    public String agentId = "katmesh-rollout";
    /** Metadata its runner adds to the trajectory (e.g. the supervision's verdict). */
    public final Map<String, String> notes = new LinkedHashMap<>();

    final long createdAtMs = System.currentTimeMillis();

    private Episode(Task task, String trajectoryId, String groupId, Path workspace, long seed) {
        this.task = task;
        this.trajectoryId = trajectoryId;
        this.groupId = groupId;
        this.workspace = workspace;
        this.seed = seed;
    }

    /** A fresh episode: the task's files (and its visible tests, so the agent can run them) in a new workspace. */
    public static Episode start(Task task, String trajectoryId, String groupId, long seed) throws IOException {
        Path ws = Workspaces.create("episode");
        Episode e = new Episode(task, trajectoryId, groupId, ws, seed);
        for (WorkspaceFile f : task.getFilesList()) {
            TaskTests.write(ws, f.getPath(), f.getContent().toByteArray());
        }
        StringBuilder tests = new StringBuilder();
        for (TestSuite s : TaskTests.visibleSuites(task)) { // judged cases never enter the agent's workspace
            for (WorkspaceFile f : s.getFilesList()) {
                TaskTests.write(ws, f.getPath(), f.getContent().toByteArray());
            }
            tests.append(tests.isEmpty() ? "" : "; ").append(String.join(" ", s.getCommandList()));
        }
        if (task.getMessagesCount() > 0) {
            e.messages.addAll(task.getMessagesList());
        } else {
            e.messages.add(message("system", Teacher.SYSTEM));
            e.messages.add(
                    message("user", task.getInstruction() + (tests.isEmpty() ? "" : "\nThe tests run with: " + tests)));
        }
        return e;
    }

    /**
     * The turns this episode may take: the harness's ceiling (an episode's cost, the same for rollout and the
     * held-out evaluation), lowered by the task's own {@code max_turns} when that is smaller; never raised by it.
     */
    public int turnLimit(int ceiling) {
        return task.getMaxTurns() > 0 ? Math.min(task.getMaxTurns(), ceiling) : ceiling;
    }

    /** The conversation so far. */
    public List<ChatMessage> messages() {
        return List.copyOf(messages);
    }

    public boolean ended() {
        return !endReason.isEmpty();
    }

    /**
     * Runs one turn: generate, parse the calls, execute them, feed the observations back. Returns false
     * when the episode ended (see {@link #endReason}).
     */
    public boolean turn(AgentPolicy policy, AgentTools tools, Budget s, int maxTurns, long deadlineNanos)
            throws InterruptedException {
        int[] prompt = prompt(policy, s);
        if (prompt == null) {
            return false;
        }
        AgentPolicy.Generated g = policy.generate(
                prompt,
                Math.min(s.maxNewTokens(), s.maxContextTokens() - prompt.length),
                s.temperature(),
                s.topP(),
                sampleSeed());
        return apply(g, policy, tools, maxTurns, deadlineNanos);
    }

    /** The seed of this turn's sampling. */
    public long sampleSeed() {
        return seed * 1_000_003L + turns;
    }

    /**
     * The first half of a turn: the context to generate from (the exact ids so far plus what the new
     * messages add), or null when no room is left for a turn (the episode then ends with max_tokens).
     * Callers that batch several episodes' generations call this, generate, then {@link #apply}.
     */
    public int[] prompt(AgentPolicy policy, Budget s) {
        List<ToolSchema> schemas = task.getToolsList();
        int[] prompt = tokens.length == 0
                ? policy.render(messages, schemas)
                : concat(tokens, policy.continuation(messages, schemas, renderedMessages));
        if (prompt.length > tokens.length) {
            segments.add(TokenSegment.newBuilder()
                    .setStart(tokens.length)
                    .setEnd(prompt.length)
                    .setMessageIndex(messages.size() - 1)
                    .build());
        }
        tokens = prompt;
        renderedMessages = messages.size();
        int room = s.maxContextTokens() - prompt.length;
        if (room < 16) {
            end("max_tokens");
            return null;
        }
        return prompt;
    }

    /** The second half of a turn: records the generated tokens, runs the calls. False when the episode ended. */
    public boolean apply(
            AgentPolicy.Generated g, AgentPolicy policy, AgentTools tools, int maxTurns, long deadlineNanos)
            throws InterruptedException {
        int assistantIndex = messages.size();
        for (int at = 0; at < g.tokens().length; ) { // a segment per run of one policy version
            int end = at;
            TokenSegment.Builder seg = TokenSegment.newBuilder()
                    .setGenerated(true)
                    .setPolicyVersion(g.versions()[at])
                    .setMessageIndex(assistantIndex);
            while (end < g.tokens().length && g.versions()[end] == g.versions()[at]) {
                seg.addLogprobs(g.logprobs()[end++]);
            }
            segments.add(
                    seg.setStart(tokens.length + at).setEnd(tokens.length + end).build());
            at = end;
        }
        tokens = concat(tokens, g.tokens());
        ToolCallSyntax.Parsed parsed = ToolCallSyntax.parse(g.text());
        ChatMessage.Builder assistant = ChatMessage.newBuilder()
                .setRole("assistant")
                .setContent(parsed.calls().isEmpty() ? g.text() : parsed.content());
        for (int i = 0; i < parsed.calls().size(); i++) {
            assistant.addToolCalls(ToolCall.newBuilder()
                    .setId("call-" + turns + "-" + i)
                    .setType("function")
                    .setName(parsed.calls().get(i).name())
                    .setArguments(parsed.calls().get(i).argumentsJson()));
        }
        messages.add(assistant.build());
        renderedMessages = messages.size();
        turns++;
        if (g.finishReason().equals("length")) {
            // The turn was cut: close it with the end-of-turn token (not sampled: no log-prob, no loss), as
            // the chat template closes every assistant message, so the conversation goes on in its format.
            int eot = policy.endOfTurn();
            segments.add(TokenSegment.newBuilder()
                    .setStart(tokens.length)
                    .setEnd(tokens.length + 1)
                    .setMessageIndex(assistantIndex)
                    .build());
            tokens = concat(tokens, new int[] {eot});
        }
        if (parsed.calls().isEmpty()) {
            messages.add(message("user", NO_CALL));
        }
        for (ToolCall call : assistant.getToolCallsList()) {
            AgentTools.Result r = tools.execute(call.getName(), call.getArguments(), workspace);
            messages.add(ChatMessage.newBuilder()
                    .setRole("tool")
                    .setToolCallId(call.getId())
                    .setName(call.getName())
                    .setContent(r.output())
                    .build());
            steps.add(ToolStep.newBuilder()
                    .setMessageIndex(messages.size() - 1)
                    .setToolCallId(call.getId())
                    .setToolName(call.getName())
                    .setArguments(call.getArguments())
                    .setOutput(r.output())
                    .setExitCode(r.exitCode())
                    .setErrorClass(r.errorClass())
                    .setDurationMs(r.durationMs())
                    .build());
            if (!r.submittedPath().isEmpty()) {
                submittedPath = r.submittedPath();
                return end("submitted");
            }
        }
        if (turns >= maxTurns) {
            return end("max_turns");
        }
        if (System.nanoTime() - deadlineNanos > 0) {
            return end("timeout");
        }
        return true;
    }

    boolean end(String reason) {
        endReason = reason;
        return false;
    }

    /** Ends the episode from outside its turns (its runner's decision), for {@code reason}. */
    public void stop(String reason) {
        end(reason);
    }

    /** Tokens the policy generated in this episode (a branch counts its shared prefix too). */
    public long generatedTokens() {
        long n = 0;
        for (TokenSegment s : segments) {
            n += s.getGenerated() ? s.getEnd() - s.getStart() : 0;
        }
        return n;
    }

    /** The policy version of the episode's last generated token (0 before the first). */
    public long lastPolicyVersion() {
        for (int i = segments.size() - 1; i >= 0; i--) {
            if (segments.get(i).getGenerated()) {
                return segments.get(i).getPolicyVersion();
            }
        }
        return 0;
    }

    /** A continuation of this episode from here, on a copy of its workspace, sampling with other seeds. */
    public Episode fork(String id, long newSeed) throws IOException {
        Path ws = Workspaces.create("episode");
        copyTree(workspace, ws);
        Episode e = new Episode(task, id, groupId, ws, newSeed);
        e.messages.addAll(messages);
        e.steps.addAll(steps);
        e.segments.addAll(segments);
        e.tokens = tokens;
        e.renderedMessages = renderedMessages;
        e.turns = turns;
        e.notes.putAll(notes);
        e.tree = TreeLink.newBuilder()
                .setParentTrajectoryId(trajectoryId)
                .setBranchMessageIndex(messages.size())
                .setBranchTokenIndex(tokens.length)
                .build();
        return e;
    }

    public Trajectory trajectory(String failure) {
        Trajectory.Builder t = Trajectory.newBuilder()
                .setTrajectoryId(trajectoryId)
                .setGroupId(groupId)
                .setTaskId(task.getTaskId())
                .setAgentId(agentId)
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .setCreatedAtMs(createdAtMs)
                .addAllMessages(messages)
                .addAllTools(task.getToolsList())
                .addAllSteps(steps)
                .addAllSegments(segments)
                .putMetadata("end_reason", failure == null ? endReason : "failed")
                .putMetadata("turns", Integer.toString(turns))
                .putAllMetadata(notes);
        for (int id : tokens) {
            t.addTokenIds(id);
        }
        if (tree != null) {
            t.setTree(tree);
        }
        if (failure != null) {
            t.putMetadata("failure", failure.length() > 500 ? failure.substring(0, 500) : failure);
        }
        Outcome.Builder o = Outcome.newBuilder().setSubmitted(!submittedPath.isEmpty());
        if (!submittedPath.isEmpty()) {
            String content = AgentTools.readSubmission(workspace, submittedPath);
            o.setKind(SolutionKind.SOLUTION_KIND_FILE)
                    .setPath(submittedPath)
                    .setContent(content == null ? "" : content);
        }
        return t.setOutcome(o).build();
    }

    public void cleanUp() {
        try {
            TaskTests.delete(workspace);
        } catch (IOException e) {
            // a temp dir left behind is not worth failing an episode for
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static ChatMessage message(String role, String content) {
        return ChatMessage.newBuilder().setRole(role).setContent(content).build();
    }
}
