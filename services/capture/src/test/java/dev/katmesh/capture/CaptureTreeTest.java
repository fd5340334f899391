package dev.katmesh.capture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CaptureTreeTest {

    static final Trajectory BASE = Trajectory.newBuilder().setGroupId("s").build();

    static CapturedRequest request(String id, String parent, int[] context, int[] generated, long version) {
        CapturedRequest.Builder r = CapturedRequest.newBuilder()
                .setRequestId(id)
                .setParentRequestId(parent)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("q " + id))
                .setAssistant(ChatMessage.newBuilder().setRole("assistant").setContent("a " + id));
        Arrays.stream(context).forEach(r::addContextTokenIds);
        for (int g : generated) {
            r.addGeneratedTokenIds(g).addLogprobs(-0.5f).addPolicyVersions(version);
        }
        if (!parent.isEmpty()) {
            r.setMessagesShared(2); // the parent's question and answer
        }
        return r.build();
    }

    @Test
    void whatCannotJoinTheTreeLeavesItAsItWas() {
        CaptureTree t = new CaptureTree("t");
        assertEquals(CaptureTree.Added.ADDED, t.add(request("a", "", new int[] {1}, new int[] {2}, 1)));
        assertEquals(CaptureTree.Added.DUPLICATE, t.add(request("a", "", new int[] {1}, new int[] {2}, 1)));
        assertEquals(CaptureTree.Added.ORPHAN, t.add(request("b", "gone", new int[] {1}, new int[] {2}, 1)));
        CapturedRequest noLogprobs = request("c", "a", new int[] {3}, new int[] {4}, 1).toBuilder()
                .clearLogprobs()
                .build();
        assertEquals(CaptureTree.Added.MALFORMED, t.add(noLogprobs));
        CapturedRequest sharesTooMuch = request("d", "a", new int[] {3}, new int[] {4}, 1).toBuilder()
                .setMessagesShared(3)
                .build();
        assertEquals(CaptureTree.Added.MALFORMED, t.add(sharesTooMuch), "the parent had 2 messages");
        assertEquals(1, t.requests());
        assertEquals(List.of("a"), t.leaves(BASE).get(0).getCapturedRequestIdsList());
    }

    @Test
    void aChildRebuildsItsParentsTokensConversationAndSegments() {
        CaptureTree t = new CaptureTree("t");
        t.add(request("a", "", new int[] {1, 2}, new int[] {3}, 7));
        t.add(request("b", "a", new int[] {4}, new int[] {5, 6}, 8));
        Trajectory leaf = t.leaves(BASE).get(0);
        assertEquals(List.of(1, 2, 3, 4, 5, 6), leaf.getTokenIdsList());
        assertEquals(
                List.of("q a", "a a", "q b", "a b"),
                leaf.getMessagesList().stream().map(ChatMessage::getContent).toList());
        List<TokenSegment> s = leaf.getSegmentsList();
        assertEquals(4, s.size(), s.toString());
        assertEquals(
                List.of(false, true, false, true),
                s.stream().map(TokenSegment::getGenerated).toList());
        assertEquals(List.of(0, 2, 3, 4), s.stream().map(TokenSegment::getStart).toList());
        assertEquals(
                List.of(0, 1, 2, 3),
                s.stream().map(TokenSegment::getMessageIndex).toList());
        assertEquals(8, s.get(3).getPolicyVersion());
        assertEquals("2", leaf.getMetadataOrThrow("turns"));
    }

    /**
     * Random trees (parallel requests, retries, twins with the same answer, side roots), checked against what each
     * request's path is: every request named by exactly one trajectory, which holds its whole path; no trajectory
     * inside another; segments partitioning the tokens; each link to the earlier trajectory sharing most tokens.
     */
    @Test
    void everyRequestIsNamedOnceByATrajectoryHoldingItsPath() {
        for (int seed = 0; seed < 300; seed++) {
            Random rnd = new Random(seed);
            CaptureTree t = new CaptureTree("t");
            List<String> ids = new ArrayList<>();
            Map<String, int[]> path = new HashMap<>();
            int n = 1 + rnd.nextInt(12);
            for (int i = 0; i < n; i++) {
                String parent = ids.isEmpty() || rnd.nextInt(5) == 0 ? "" : ids.get(rnd.nextInt(ids.size()));
                int[] context = rnd.ints(rnd.nextInt(3), 0, 3).toArray(); // a small alphabet: twins happen
                int[] generated = rnd.ints(1 + rnd.nextInt(2), 0, 3).toArray();
                String id = "r" + i;
                assertEquals(
                        CaptureTree.Added.ADDED, t.add(request(id, parent, context, generated, 1 + rnd.nextInt(2))));
                int[] before = parent.isEmpty() ? new int[0] : path.get(parent);
                int[] all = Arrays.copyOf(before, before.length + context.length + generated.length);
                System.arraycopy(context, 0, all, before.length, context.length);
                System.arraycopy(generated, 0, all, before.length + context.length, generated.length);
                path.put(id, all);
                ids.add(id);
            }
            List<Trajectory> leaves = t.leaves(BASE);
            Map<String, Integer> namedBy = new HashMap<>();
            for (int k = 0; k < leaves.size(); k++) {
                Trajectory leaf = leaves.get(k);
                int[] tokens = leaf.getTokenIdsList().stream()
                        .mapToInt(Integer::intValue)
                        .toArray();
                for (String id : leaf.getCapturedRequestIdsList()) {
                    assertEquals(null, namedBy.put(id, k), "seed " + seed + ": " + id + " named twice");
                    int[] p = path.get(id);
                    assertTrue(
                            p.length <= tokens.length && Arrays.equals(p, 0, p.length, tokens, 0, p.length),
                            "seed " + seed + ": " + leaf.getTrajectoryId() + " holds the path of " + id);
                }
                int at = 0;
                for (TokenSegment s : leaf.getSegmentsList()) {
                    assertEquals(at, s.getStart(), "seed " + seed + ": segments are contiguous");
                    if (s.getGenerated()) {
                        assertEquals(s.getEnd() - s.getStart(), s.getLogprobsCount());
                    }
                    at = s.getEnd();
                }
                assertEquals(tokens.length, at, "seed " + seed + ": segments cover the tokens");
                int best = 0;
                for (int j = 0; j < k; j++) {
                    int[] o = leaves.get(j).getTokenIdsList().stream()
                            .mapToInt(Integer::intValue)
                            .toArray();
                    int common = Arrays.mismatch(o, tokens) < 0 ? o.length : Arrays.mismatch(o, tokens);
                    best = Math.max(best, common);
                    assertTrue(
                            common < tokens.length || o.length > tokens.length,
                            "seed " + seed + ": no trajectory inside an earlier one");
                    assertTrue(common < o.length, "seed " + seed + ": no earlier trajectory inside a later one");
                }
                assertEquals(best, leaf.hasTree() ? leaf.getTree().getBranchTokenIndex() : 0, "seed " + seed);
            }
            assertEquals(n, namedBy.size(), "seed " + seed + ": every request is named");
        }
    }
}
