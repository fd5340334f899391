package dev.katmesh.inference;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TreeLink;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One agent session's requests as a prefix tree of the exact token sequences served: agents compact their
 * history, retry, edit earlier turns and run side requests and sub-agents in parallel, and every request is kept.
 *
 * <p>DESIGN. A branch is one root-to-node path: the tokens the model saw and sampled (with a segment per run of
 * context or of one policy version) and the conversation of its latest request. A request goes where its rendering
 * extends the most tokens: the branch and turn end whose text is the longest prefix of it. Its prompt is that
 * branch's tokens up to that turn end, then the tokens of what the agent added since — no retokenisation of what the
 * model already saw. If that is the branch's last turn end and no other request of the branch is running, the branch
 * grows in place; otherwise (a parallel request, a retry, an edit of an earlier turn) a new branch starts as a copy of
 * that prefix. A request that extends no branch (another system prompt or tool set: a side request such as a title)
 * starts a branch of its own. When the session ends, its leaves — branches that are not a prefix of another — are
 * published, each a self-contained trajectory linked ({@link TreeLink}) to the earlier leaf it shares most tokens
 * with; the learner packs a step's trajectories into prefix trees, so a shared prefix is computed once.
 *
 * <p>Not thread-safe: {@link SessionRecorder} calls it under the tree's own lock.
 */
final class SessionTree {

    /** Where a branch's turn ended: its token count, the length of their text, and its messages and segments. */
    private record TurnEnd(int tokens, int textLength, int messages, int segments) {}

    /** One root-to-node path of the tree. */
    static final class Branch {
        private int[] tokens = new int[0];
        private String text = "";
        private final List<TokenSegment> segments = new ArrayList<>();
        private final List<TurnEnd> ends = new ArrayList<>();
        private List<ChatMessage> messages = List.of();
        private List<ToolSchema> tools;
        private boolean running;

        private Branch(List<ToolSchema> tools) {
            this.tools = List.copyOf(tools);
        }

        private Branch prefix(int endIndex) {
            TurnEnd end = ends.get(endIndex);
            Branch b = new Branch(tools);
            b.tokens = Arrays.copyOf(tokens, end.tokens());
            b.text = text.substring(0, end.textLength());
            b.segments.addAll(segments.subList(0, end.segments()));
            b.ends.addAll(ends.subList(0, endIndex + 1));
            b.messages = messages.subList(0, Math.min(end.messages(), messages.size()));
            return b;
        }
    }

    /**
     * A request placed on the tree: its branch, the prompt to feed, where the request's new context starts in it,
     * and whether the branch was made for it (removed again if the request fails).
     */
    record Placement(Branch branch, int[] prompt, int start, boolean newBranch) {}

    private final Function<String, int[]> encode;
    private final Function<int[], String> decode;
    private final int maxBranches;
    private final List<Branch> branches = new ArrayList<>();
    private int requests;

    SessionTree(Function<String, int[]> encode, Function<int[], String> decode, int maxBranches) {
        this.encode = encode;
        this.decode = decode;
        this.maxBranches = maxBranches;
    }

    /**
     * Places a request (its rendering with the generation prompt, and its tools); null when it needs a new branch
     * and the tree already has {@code maxBranches}.
     */
    Placement place(String text, List<ToolSchema> tools) {
        Branch best = null;
        int bestEnd = -1;
        for (Branch b : branches) {
            if (!b.tools.equals(tools)) {
                continue;
            }
            for (int i = b.ends.size() - 1; i >= 0; i--) {
                TurnEnd e = b.ends.get(i);
                int bestTokens = best == null ? -1 : best.ends.get(bestEnd).tokens();
                boolean inPlace = i == b.ends.size() - 1 && !b.running;
                if (e.tokens() < bestTokens || (e.tokens() == bestTokens && !inPlace)) {
                    break; // earlier ends are shorter still
                }
                if (text.regionMatches(0, b.text, 0, e.textLength())) {
                    best = b;
                    bestEnd = i;
                    break;
                }
            }
        }
        if (best != null) {
            int[] prefix = Arrays.copyOf(best.tokens, best.ends.get(bestEnd).tokens());
            String head = decode.apply(prefix); // the cached text is a fast filter; this is the exact test
            if (text.startsWith(head)) {
                int[] delta = encode.apply(text.substring(head.length()));
                int[] prompt = Arrays.copyOf(prefix, prefix.length + delta.length);
                System.arraycopy(delta, 0, prompt, prefix.length, delta.length);
                if (bestEnd == best.ends.size() - 1 && !best.running) {
                    best.running = true;
                    return new Placement(best, prompt, prefix.length, false);
                }
                return added(best.prefix(bestEnd), prompt, prefix.length);
            }
        }
        return added(new Branch(tools), encode.apply(text), 0);
    }

    private Placement added(Branch b, int[] prompt, int start) {
        if (branches.size() >= maxBranches) {
            return null;
        }
        b.running = true;
        branches.add(b);
        return new Placement(b, prompt, start, true);
    }

    /**
     * Records a placed request's answer: its context segment, one generated segment per run of one policy version
     * (with the behaviour log-probs), and the conversation with the assistant's message.
     */
    void record(
            Placement p,
            int[] generated,
            float[] logprobs,
            long[] versions,
            List<ChatMessage> requestMessages,
            ChatMessage assistant) {
        Branch b = p.branch();
        int[] prompt = p.prompt();
        if (prompt.length > p.start()) {
            b.segments.add(TokenSegment.newBuilder()
                    .setStart(p.start())
                    .setEnd(prompt.length)
                    .setMessageIndex(requestMessages.size() - 1)
                    .build());
        }
        int at = 0;
        while (at < generated.length) {
            int end = at;
            TokenSegment.Builder seg = TokenSegment.newBuilder()
                    .setGenerated(true)
                    .setPolicyVersion(versions[at])
                    .setMessageIndex(requestMessages.size());
            while (end < generated.length && versions[end] == versions[at]) {
                seg.addLogprobs(logprobs[end]);
                end++;
            }
            b.segments.add(
                    seg.setStart(prompt.length + at).setEnd(prompt.length + end).build());
            at = end;
        }
        b.tokens = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, b.tokens, prompt.length, generated.length);
        b.text = decode.apply(b.tokens);
        List<ChatMessage> all = new ArrayList<>(requestMessages);
        all.add(assistant);
        b.messages = List.copyOf(all);
        b.ends.add(new TurnEnd(b.tokens.length, b.text.length(), b.messages.size(), b.segments.size()));
        b.running = false;
        requests++;
    }

    /** A placed request failed: its branch is as it was, and a branch made for it is gone. */
    void abandon(Placement p) {
        p.branch().running = false;
        if (p.newBranch()) {
            branches.remove(p.branch());
        }
    }

    /** Whether a request of the session is running. */
    boolean running() {
        return branches.stream().anyMatch(b -> b.running);
    }

    /** Requests recorded. */
    int requests() {
        return requests;
    }

    /** Branches, running ones included. */
    int branches() {
        return branches.size();
    }

    /**
     * The tree's leaves as trajectories: {@code base} (the session's fields) with each leaf's tokens, segments,
     * conversation, tools and tool steps, ids {@code id} (the first) and {@code id.k}, the tree's id, leaves and
     * requests in their metadata, and a link to the earlier leaf each shares most tokens with. A branch that is a
     * prefix of another is inside that one and not published.
     */
    List<Trajectory> leaves(Trajectory base, String id) {
        List<Branch> leaves = new ArrayList<>();
        for (Branch b : branches) {
            if (b.ends.isEmpty()) {
                continue;
            }
            boolean inside = false;
            for (Branch o : branches) {
                boolean longer =
                        o.tokens.length > b.tokens.length || (o.tokens.length == b.tokens.length && leaves.contains(o));
                if (o != b && longer && Arrays.equals(o.tokens, 0, b.tokens.length, b.tokens, 0, b.tokens.length)) {
                    inside = true;
                    break;
                }
            }
            if (!inside) {
                leaves.add(b);
            }
        }
        List<Trajectory> out = new ArrayList<>();
        for (int k = 0; k < leaves.size(); k++) {
            Branch b = leaves.get(k);
            Trajectory.Builder t = base.toBuilder()
                    .setTrajectoryId(k == 0 ? id : id + "." + k)
                    .addAllMessages(b.messages)
                    .addAllTools(b.tools)
                    .addAllSegments(b.segments)
                    .addAllSteps(steps(b.messages))
                    .putMetadata("turns", Integer.toString(b.ends.size()))
                    .putMetadata("tree_id", id)
                    .putMetadata("tree_leaves", Integer.toString(leaves.size()))
                    .putMetadata("tree_requests", Integer.toString(requests));
            for (int token : b.tokens) {
                t.addTokenIds(token);
            }
            int parent = -1;
            int shared = 0;
            for (int j = 0; j < k; j++) {
                int common = commonPrefix(leaves.get(j).tokens, b.tokens);
                if (common > shared) {
                    parent = j;
                    shared = common;
                }
            }
            if (parent >= 0) {
                t.setTree(TreeLink.newBuilder()
                        .setParentTrajectoryId(out.get(parent).getTrajectoryId())
                        .setBranchTokenIndex(shared)
                        .setBranchMessageIndex(commonPrefix(leaves.get(parent).messages, b.messages)));
            }
            out.add(t.build());
        }
        return out;
    }

    /** Distinct tokens of the published leaves: the nodes of the prefix tree. */
    static int nodes(List<Trajectory> leaves) {
        int n = 0;
        for (Trajectory t : leaves) {
            n += t.getTokenIdsCount() - (t.hasTree() ? t.getTree().getBranchTokenIndex() : 0);
        }
        return n;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? a.length : m;
    }

    private static int commonPrefix(List<ChatMessage> a, List<ChatMessage> b) {
        int n = 0;
        while (n < a.size() && n < b.size() && a.get(n).equals(b.get(n))) {
            n++;
        }
        return n;
    }

    /** The tool executions a conversation shows: each tool message with the call it answers. */
    private static List<ToolStep> steps(List<ChatMessage> messages) {
        Map<String, ToolCall> calls = new HashMap<>();
        List<ToolStep> steps = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            m.getToolCallsList().forEach(call -> calls.put(call.getId(), call));
            if (m.getRole().equals("tool")) {
                ToolCall call = calls.get(m.getToolCallId());
                steps.add(ToolStep.newBuilder()
                        .setMessageIndex(i)
                        .setToolCallId(m.getToolCallId())
                        .setToolName(call == null ? m.getName() : call.getName())
                        .setArguments(call == null ? "" : call.getArguments())
                        .setOutput(m.getContent())
                        .build());
            }
        }
        return steps;
    }
}
