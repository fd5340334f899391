package dev.katmesh.inference;

import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Where each request of one agent session goes on the session's prefix tree of the exact token sequences served:
 * agents compact their history, retry, edit earlier turns and run side requests and sub-agents in parallel, and every
 * request is kept.
 *
 * <p>DESIGN. A branch is one root-to-node path: the tokens the model saw and sampled, and the turn ends along it (each
 * the end of one recorded request). A request goes where its rendering extends the most tokens: the branch and turn
 * end whose text is the longest prefix of it. Its prompt is that branch's tokens up to that turn end, then the tokens
 * of what the agent added since — no retokenisation of what the model already saw. If that is the branch's last turn
 * end and no other request of the branch is running, the branch grows in place; otherwise (a parallel request, a
 * retry, an edit of an earlier turn) a new branch starts as a copy of that prefix. A request that extends no branch
 * (another system prompt or tool set: a side request such as a title) starts a branch of its own. Each recorded
 * request becomes a {@link CapturedRequest} naming the request whose turn end it extends, which inference logs; the
 * trajectories are built from those records ({@link dev.katmesh.capture.CaptureTree}), by inference and by the
 * reward service alike.
 *
 * <p>Not thread-safe: {@link SessionRecorder} calls it under the tree's own lock.
 */
final class SessionTree {

    /** Where a branch's turn ended: its token count, the length of their text, the request and its conversation. */
    private record TurnEnd(int tokens, int textLength, String requestId, List<ChatMessage> messages) {}

    /** One root-to-node path of the tree. */
    static final class Branch {
        private int[] tokens = new int[0];
        private String text = "";
        private final List<TurnEnd> ends = new ArrayList<>();
        private final List<ToolSchema> tools;
        private boolean running;

        private Branch(List<ToolSchema> tools) {
            this.tools = List.copyOf(tools);
        }

        private Branch prefix(int endIndex) {
            TurnEnd end = ends.get(endIndex);
            Branch b = new Branch(tools);
            b.tokens = Arrays.copyOf(tokens, end.tokens());
            b.text = text.substring(0, end.textLength());
            b.ends.addAll(ends.subList(0, endIndex + 1));
            return b;
        }
    }

    /**
     * A request placed on the tree: its branch, the prompt to feed, where the request's new context starts in it,
     * whether the branch was made for it (removed again if the request fails), and the turn end it extends (null for
     * a new root).
     */
    record Placement(Branch branch, int[] prompt, int start, boolean newBranch, TurnEnd parent) {}

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
                TurnEnd parent = best.ends.get(bestEnd);
                if (bestEnd == best.ends.size() - 1 && !best.running) {
                    best.running = true;
                    return new Placement(best, prompt, prefix.length, false, parent);
                }
                return added(best.prefix(bestEnd), prompt, prefix.length, parent);
            }
        }
        return added(new Branch(tools), encode.apply(text), 0, null);
    }

    private Placement added(Branch b, int[] prompt, int start, TurnEnd parent) {
        if (branches.size() >= maxBranches) {
            return null;
        }
        b.running = true;
        branches.add(b);
        return new Placement(b, prompt, start, true, parent);
    }

    /**
     * Records a placed request's answer and returns it as the capture log's record: the request it extends, the
     * prompt's tokens after that request's, what was sampled (log-probs and policy version per token), and the
     * conversation as the messages it shares with its parent's and its own.
     */
    CapturedRequest record(
            Placement p,
            String requestId,
            int[] generated,
            float[] logprobs,
            long[] versions,
            List<ChatMessage> requestMessages,
            ChatMessage assistant) {
        Branch b = p.branch();
        int[] prompt = p.prompt();
        CapturedRequest.Builder r = CapturedRequest.newBuilder().setRequestId(requestId);
        List<ChatMessage> all = new ArrayList<>();
        if (p.parent() != null) {
            r.setParentRequestId(p.parent().requestId());
            List<ChatMessage> before = p.parent().messages();
            int shared = 0;
            while (shared < before.size()
                    && shared < requestMessages.size()
                    && before.get(shared).equals(requestMessages.get(shared))) {
                all.add(before.get(shared)); // the parent's objects: a long session holds each message once
                shared++;
            }
            r.setMessagesShared(shared);
        } else {
            r.addAllTools(b.tools);
        }
        List<ChatMessage> own = requestMessages.subList(all.size(), requestMessages.size());
        r.addAllMessages(own).setAssistant(assistant);
        all.addAll(own);
        all.add(assistant);
        for (int i = p.start(); i < prompt.length; i++) {
            r.addContextTokenIds(prompt[i]);
        }
        for (int i = 0; i < generated.length; i++) {
            r.addGeneratedTokenIds(generated[i]).addLogprobs(logprobs[i]).addPolicyVersions(versions[i]);
        }
        b.tokens = Arrays.copyOf(prompt, prompt.length + generated.length);
        System.arraycopy(generated, 0, b.tokens, prompt.length, generated.length);
        b.text = decode.apply(b.tokens);
        b.ends.add(new TurnEnd(b.tokens.length, b.text.length(), requestId, List.copyOf(all)));
        b.running = false;
        requests++;
        return r.build();
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
}
