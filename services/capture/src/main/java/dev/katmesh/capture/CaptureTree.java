package dev.katmesh.capture;

import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TreeLink;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One captured session's tree, rebuilt from its requests in the order inference logged them: each request extends
 * its parent's whole token sequence (prompt and answer) with the context the agent added and the tokens the policy
 * sampled, so a root-to-node path is exactly what the model saw and sampled along it.
 *
 * <p>DESIGN. The leaves — requests no other request extends — are the trajectories, in the order their requests
 * were logged; a leaf whose tokens are a prefix of (or equal to) an earlier kept leaf's is inside it and not
 * published (the same request sent twice, with the same answer). Each leaf links to the earlier leaf it shares most
 * tokens with, so the learner computes a shared prefix once. Each request is named by exactly one leaf
 * ({@code captured_request_ids}): the first whose path holds it, or the leaf that holds an unpublished one's tokens.
 * Inference builds its answer to a session's end and the reward service its published trajectories with this same
 * class from the same records, so both name the same ids. The leaf holding the last logged request is the session's
 * main line ({@code tree_main_line: true}): the one it ended on.
 */
public final class CaptureTree {

    /** What became of a request offered to the tree. */
    public enum Added {
        ADDED,
        /** Its parent is not in this tree (logged before this tree was started, or lost). */
        ORPHAN,
        /** A request id already in the tree. */
        DUPLICATE,
        /** Log-probs or versions do not match the generated tokens one for one. */
        MALFORMED
    }

    private static final class Node {
        final CapturedRequest request;
        final Node parent;
        final int index;
        final int depth;
        final int start; // tokens of the parent's path
        final int requestMessages; // messages of the request (without its answer)
        boolean hasChildren;

        Node(CapturedRequest request, Node parent, int index) {
            this.request = request;
            this.parent = parent;
            this.index = index;
            this.depth = parent == null ? 1 : parent.depth + 1;
            this.start = parent == null ? 0 : parent.end();
            this.requestMessages = request.getMessagesShared() + request.getMessagesCount();
        }

        int end() {
            return start + request.getContextTokenIdsCount() + request.getGeneratedTokenIdsCount();
        }

        Node root() {
            Node n = this;
            while (n.parent != null) {
                n = n.parent;
            }
            return n;
        }
    }

    private final String treeId;
    private final Map<String, Node> byId = new HashMap<>();
    private final List<Node> nodes = new ArrayList<>();

    public CaptureTree(String treeId) {
        this.treeId = treeId;
    }

    public String treeId() {
        return treeId;
    }

    /** Adds a logged request; anything but {@link Added#ADDED} leaves the tree as it was. */
    public Added add(CapturedRequest r) {
        if (byId.containsKey(r.getRequestId())) {
            return Added.DUPLICATE;
        }
        int generated = r.getGeneratedTokenIdsCount();
        if (r.getLogprobsCount() != generated || r.getPolicyVersionsCount() != generated) {
            return Added.MALFORMED;
        }
        Node parent = null;
        if (!r.getParentRequestId().isEmpty()) {
            parent = byId.get(r.getParentRequestId());
            if (parent == null) {
                return Added.ORPHAN;
            }
            if (r.getMessagesShared() > parent.requestMessages + 1) {
                return Added.MALFORMED; // shares more messages than the parent had
            }
        } else if (r.getMessagesShared() != 0) {
            return Added.MALFORMED;
        }
        Node n = new Node(r, parent, nodes.size());
        if (parent != null) {
            parent.hasChildren = true;
        }
        byId.put(r.getRequestId(), n);
        nodes.add(n);
        return Added.ADDED;
    }

    /** Requests in the tree. */
    public int requests() {
        return nodes.size();
    }

    /**
     * The tree's leaves as trajectories: {@code base} (the session's fields) with each leaf's tokens, segments,
     * conversation, tools and tool steps; ids {@code treeId} (the first) and {@code treeId.k}; the tree's id,
     * leaves and requests in their metadata; the requests each holds past its link in captured_request_ids.
     */
    public List<Trajectory> leaves(Trajectory base) {
        List<Node> candidates = new ArrayList<>();
        List<int[]> candidateTokens = new ArrayList<>();
        for (Node n : nodes) {
            if (!n.hasChildren) {
                candidates.add(n);
                candidateTokens.add(tokens(n));
            }
        }
        List<Node> leaves = new ArrayList<>();
        List<int[]> tokens = new ArrayList<>();
        List<Integer> inside = new ArrayList<>(); // candidates held by another's tokens
        for (int c = 0; c < candidates.size(); c++) {
            int[] t = candidateTokens.get(c);
            boolean held = false;
            for (int o = 0; o < candidates.size() && !held; o++) {
                int[] u = candidateTokens.get(o);
                held = o != c
                        && (u.length > t.length || (u.length == t.length && o < c))
                        && Arrays.equals(u, 0, t.length, t, 0, t.length);
            }
            if (held) {
                inside.add(c);
            } else {
                leaves.add(candidates.get(c));
                tokens.add(t);
            }
        }
        Map<Node, Integer> holder = new LinkedHashMap<>(); // an unpublished candidate -> the first leaf holding it
        for (int c : inside) {
            int[] t = candidateTokens.get(c);
            for (int k = 0; k < leaves.size(); k++) {
                int[] u = tokens.get(k);
                if (u.length >= t.length && Arrays.equals(u, 0, t.length, t, 0, t.length)) {
                    holder.put(candidates.get(c), k);
                    break;
                }
            }
        }
        List<Set<String>> owned = new ArrayList<>();
        Set<Node> claimed = new HashSet<>();
        for (Node leaf : leaves) {
            owned.add(claim(leaf, claimed));
        }
        holder.forEach((n, k) -> owned.get(k).addAll(claim(n, claimed)));

        // The session ended on the leaf that holds its last request: every other leaf is an answer it went no further
        // from (sampled again, or left for another branch), whose last turn nothing acted on (TreePruning).
        Node lastRequest = nodes.isEmpty() ? null : nodes.get(nodes.size() - 1);
        int mainLine = lastRequest == null ? -1 : leaves.indexOf(lastRequest);
        if (mainLine < 0 && holder.containsKey(lastRequest)) {
            mainLine = holder.get(lastRequest);
        }
        List<Trajectory> out = new ArrayList<>();
        for (int k = 0; k < leaves.size(); k++) {
            Node leaf = leaves.get(k);
            List<ChatMessage> messages = messages(leaf);
            Trajectory.Builder t = base.toBuilder()
                    .setTrajectoryId(k == 0 ? treeId : treeId + "." + k)
                    .addAllMessages(messages)
                    .addAllTools(leaf.root().request.getToolsList())
                    .addAllSegments(segments(leaf))
                    .addAllSteps(steps(messages))
                    .putMetadata("turns", Integer.toString(leaf.depth))
                    .putMetadata("tree_id", treeId)
                    .putMetadata("tree_leaves", Integer.toString(leaves.size()))
                    .putMetadata("tree_requests", Integer.toString(nodes.size()))
                    .putMetadata("tree_main_line", Boolean.toString(k == mainLine))
                    .addAllCapturedRequestIds(owned.get(k));
            for (int token : tokens.get(k)) {
                t.addTokenIds(token);
            }
            int parent = -1;
            int shared = 0;
            for (int j = 0; j < k; j++) {
                int common = commonPrefix(tokens.get(j), tokens.get(k));
                if (common > shared) {
                    parent = j;
                    shared = common;
                }
            }
            if (parent >= 0) {
                t.setTree(TreeLink.newBuilder()
                        .setParentTrajectoryId(out.get(parent).getTrajectoryId())
                        .setBranchTokenIndex(shared)
                        .setBranchMessageIndex(commonPrefix(out.get(parent).getMessagesList(), messages)));
            }
            out.add(t.build());
        }
        return out;
    }

    /** Distinct tokens of published leaves: the nodes of the prefix tree. */
    public static int nodes(List<Trajectory> leaves) {
        int n = 0;
        for (Trajectory t : leaves) {
            n += t.getTokenIdsCount() - (t.hasTree() ? t.getTree().getBranchTokenIndex() : 0);
        }
        return n;
    }

    /** The path's requests not claimed yet, root first; claims them. */
    private static Set<String> claim(Node leaf, Set<Node> claimed) {
        List<Node> path = path(leaf);
        Set<String> ids = new LinkedHashSet<>();
        for (Node n : path) {
            if (claimed.add(n)) {
                ids.add(n.request.getRequestId());
            }
        }
        return ids;
    }

    private static List<Node> path(Node leaf) {
        List<Node> path = new ArrayList<>();
        for (Node n = leaf; n != null; n = n.parent) {
            path.add(0, n);
        }
        return path;
    }

    private static int[] tokens(Node leaf) {
        int[] out = new int[leaf.end()];
        for (Node n = leaf; n != null; n = n.parent) {
            int at = n.start;
            for (int id : n.request.getContextTokenIdsList()) {
                out[at++] = id;
            }
            for (int id : n.request.getGeneratedTokenIdsList()) {
                out[at++] = id;
            }
        }
        return out;
    }

    /** A node's conversation: its parent's shared messages, its own, and its answer. */
    private static List<ChatMessage> messages(Node n) {
        List<ChatMessage> out = new ArrayList<>();
        if (n.parent != null) {
            out.addAll(messages(n.parent).subList(0, n.request.getMessagesShared()));
        }
        out.addAll(n.request.getMessagesList());
        out.add(n.request.getAssistant());
        return out;
    }

    /** Along the path: a context segment per request (when it added any), one generated segment per version run. */
    private static List<TokenSegment> segments(Node leaf) {
        List<TokenSegment> out = new ArrayList<>();
        for (Node n : path(leaf)) {
            CapturedRequest r = n.request;
            int context = r.getContextTokenIdsCount();
            if (context > 0) {
                out.add(TokenSegment.newBuilder()
                        .setStart(n.start)
                        .setEnd(n.start + context)
                        .setMessageIndex(n.requestMessages - 1)
                        .build());
            }
            int from = n.start + context;
            int at = 0;
            int generated = r.getGeneratedTokenIdsCount();
            while (at < generated) {
                int end = at;
                long version = r.getPolicyVersions(at);
                TokenSegment.Builder seg = TokenSegment.newBuilder()
                        .setGenerated(true)
                        .setPolicyVersion(version)
                        .setMessageIndex(n.requestMessages);
                while (end < generated && r.getPolicyVersions(end) == version) {
                    seg.addLogprobs(r.getLogprobs(end));
                    end++;
                }
                out.add(seg.setStart(from + at).setEnd(from + end).build());
                at = end;
            }
        }
        return out;
    }

    private static int commonPrefix(int[] a, int[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? Math.min(a.length, b.length) : m;
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
