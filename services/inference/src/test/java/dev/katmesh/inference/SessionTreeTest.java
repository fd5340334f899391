package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.capture.CaptureTree;
import dev.katmesh.proto.v1.CapturedRequest;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.Trajectory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The session tree with a character codec in which the model's own tokens are not what encoding gives: token
 * {@code GEN} decodes to "ok", and encoding "ok" gives 'o','k'. A prompt that holds {@code GEN} was built from the
 * branch's sampled tokens, not by retokenising the text.
 */
class SessionTreeTest {

    static final int GEN = 100_000;
    static final Trajectory BASE = Trajectory.newBuilder().setGroupId("s").build();

    static int[] encode(String s) {
        return s.chars().toArray();
    }

    static String decode(int[] ids) {
        StringBuilder b = new StringBuilder();
        for (int id : ids) {
            b.append(id == GEN ? "ok" : String.valueOf((char) id));
        }
        return b.toString();
    }

    final SessionTree tree = new SessionTree(SessionTreeTest::encode, SessionTreeTest::decode, 4);
    final List<CapturedRequest> logged = new ArrayList<>();

    /** Answers a placed request with GEN followed by '|' (the turn's end), versioned {@code version}. */
    void answer(SessionTree.Placement p, long version) {
        logged.add(tree.record(
                p,
                "r" + logged.size(),
                new int[] {GEN, '|'},
                new float[] {-0.5f, -0.25f},
                new long[] {version, version},
                List.of(ChatMessage.newBuilder().setRole("user").setContent("q").build()),
                ChatMessage.newBuilder().setRole("assistant").setContent("ok").build()));
    }

    /** The trajectories the log of this tree's requests becomes (as the reward service assembles them). */
    List<Trajectory> leaves() {
        CaptureTree t = new CaptureTree("t");
        logged.forEach(r -> assertEquals(CaptureTree.Added.ADDED, t.add(r), r.getRequestId()));
        return t.leaves(BASE);
    }

    static boolean contains(int[] a, int v) {
        return Arrays.stream(a).anyMatch(x -> x == v);
    }

    @Test
    void aConversationThatGrowsTurnByTurnIsOneBranchFedItsOwnSampledTokens() {
        SessionTree.Placement first = tree.place("sys:a>", List.of());
        assertArrayEquals(encode("sys:a>"), first.prompt(), "a new session's prompt is its rendering, encoded");
        answer(first, 3);
        SessionTree.Placement second = tree.place("sys:a>ok|b>", List.of());
        assertFalse(second.newBranch(), "the next turn extends the branch in place");
        assertTrue(contains(second.prompt(), GEN), "the sampled token is fed back as sampled, not re-encoded");
        assertEquals(8, second.start(), "the new context starts after the first turn's tokens");
        answer(second, 4);
        List<Trajectory> leaves = leaves();
        assertEquals(1, leaves.size(), "one line of turns is one trajectory");
        Trajectory t = leaves.get(0);
        assertEquals("t", t.getTrajectoryId());
        assertFalse(t.hasTree(), "a lone branch links to nothing");
        assertEquals("2", t.getMetadataOrThrow("turns"));
        List<TokenSegment> generated =
                t.getSegmentsList().stream().filter(TokenSegment::getGenerated).toList();
        assertEquals(2, generated.size(), "one generated segment a turn");
        assertEquals(
                List.of(3L, 4L),
                generated.stream().map(TokenSegment::getPolicyVersion).toList());
        assertEquals(List.of(-0.5f, -0.25f), generated.get(1).getLogprobsList(), "behaviour log-probs kept");
        assertEquals(GEN, t.getTokenIds(generated.get(0).getStart()));
    }

    @Test
    void parallelRequestsOfOneSessionAreBothKeptAsBranchesSharingTheirPrefix() {
        answer(tree.place("sys:a>", List.of()), 1);
        SessionTree.Placement a = tree.place("sys:a>ok|b>", List.of());
        SessionTree.Placement b = tree.place("sys:a>ok|c>", List.of()); // arrives while a runs
        assertFalse(a.newBranch());
        assertTrue(b.newBranch(), "a request beside a running one gets a branch of its own, not 'busy'");
        assertEquals(a.start(), b.start(), "both extend the same sampled prefix");
        assertEquals(
                Arrays.toString(Arrays.copyOf(a.prompt(), a.start())),
                Arrays.toString(Arrays.copyOf(b.prompt(), b.start())));
        assertTrue(tree.running());
        answer(b, 2);
        answer(a, 2);
        assertFalse(tree.running());
        List<Trajectory> leaves = leaves();
        assertEquals(
                List.of("t", "t.1"),
                leaves.stream().map(Trajectory::getTrajectoryId).toList());
        assertEquals(List.of("r0", "r1"), leaves.get(0).getCapturedRequestIdsList(), "b, logged first, and its root");
        Trajectory second = leaves.get(1);
        assertEquals(List.of("r2"), second.getCapturedRequestIdsList(), "a: the root is the first leaf's");
        assertEquals("t", second.getTree().getParentTrajectoryId());
        assertEquals(a.start(), second.getTree().getBranchTokenIndex(), "linked where the two paths part");
        assertEquals("3", second.getMetadataOrThrow("tree_requests"));
        assertEquals("t", second.getMetadataOrThrow("tree_id"), "every leaf names its tree");
        assertEquals("true", second.getMetadataOrThrow("tree_main_line"), "a's answer was logged last: it holds it");
        assertEquals("false", leaves.get(0).getMetadataOrThrow("tree_main_line"), "b's leaf ends where no one went on");
        assertEquals(
                leaves.get(0).getTokenIdsCount() + second.getTokenIdsCount() - a.start(),
                CaptureTree.nodes(leaves),
                "the tree's tokens count the shared prefix once");
    }

    @Test
    void aRequestNamesTheOneItExtendsAndCarriesOnlyWhatWasAddedSince() {
        answer(tree.place("sys:a>", List.of()), 1);
        answer(tree.place("sys:a>ok|b>", List.of()), 2);
        CapturedRequest root = logged.get(0);
        CapturedRequest next = logged.get(1);
        assertEquals("", root.getParentRequestId());
        assertEquals(6, root.getContextTokenIdsCount(), "a root carries its whole prompt");
        assertEquals("r0", next.getParentRequestId());
        assertEquals(List.of((int) 'b', (int) '>'), next.getContextTokenIdsList(), "then only the added context");
        assertEquals(List.of(GEN, (int) '|'), next.getGeneratedTokenIdsList());
        assertEquals(List.of(2L, 2L), next.getPolicyVersionsList());
        assertEquals(1, next.getMessagesShared(), "the user message is the parent's; its answer is not in the request");
        assertEquals(0, next.getMessagesCount());
    }

    @Test
    void aRetryOfAnEarlierTurnBranchesAtThatTurnsEnd() {
        answer(tree.place("sys:a>", List.of()), 1);
        answer(tree.place("sys:a>ok|b>", List.of()), 1);
        SessionTree.Placement retry = tree.place("sys:a>ok|x>", List.of()); // turn 2 asked again, differently
        assertTrue(retry.newBranch());
        assertEquals(8, retry.start(), "the retry keeps the first turn's sampled tokens");
        answer(retry, 2);
        List<Trajectory> leaves = leaves();
        assertEquals(2, leaves.size(), "the original and the retry are both kept");
        assertEquals(8, leaves.get(1).getTree().getBranchTokenIndex());
        assertEquals(
                2,
                leaves.get(1).getTree().getBranchMessageIndex(),
                "the user and assistant messages of turn 1 are shared");
        assertEquals("2", leaves.get(1).getMetadataOrThrow("turns"), "the retry's path has both its turns");
    }

    @Test
    void aSideRequestWithAnotherPromptOrToolsIsARootOfItsOwnInTheSameSession() {
        answer(tree.place("sys:a>", List.of()), 1);
        List<ToolSchema> tools = List.of(ToolSchema.newBuilder().setName("bash").build());
        SessionTree.Placement withTools = tree.place("sys:a>ok|b>", tools);
        assertTrue(withTools.newBranch(), "other tools: the rendering is not an extension of the branch");
        assertArrayEquals(encode("sys:a>ok|b>"), withTools.prompt(), "encoded afresh");
        answer(withTools, 1);
        SessionTree.Placement title = tree.place("title:a>", List.of());
        answer(title, 1);
        List<Trajectory> leaves = leaves();
        assertEquals(3, leaves.size());
        assertEquals("bash", leaves.get(1).getTools(0).getName());
        assertEquals(6, leaves.get(1).getTree().getBranchTokenIndex(), "linked by the tokens it does share");
        assertFalse(leaves.get(2).hasTree(), "nothing shared, no link");
    }

    @Test
    void aFailedRequestLeavesTheTreeAsItWas() {
        answer(tree.place("sys:a>", List.of()), 1);
        SessionTree.Placement inPlace = tree.place("sys:a>ok|b>", List.of());
        SessionTree.Placement beside = tree.place("sys:a>ok|c>", List.of());
        tree.abandon(beside);
        tree.abandon(inPlace);
        assertEquals(1, tree.branches(), "the branch made for the failed request is gone");
        assertFalse(tree.running());
        List<Trajectory> leaves = leaves();
        assertEquals(1, leaves.size());
        assertEquals(8, leaves.get(0).getTokenIdsCount(), "only the first turn");
        assertFalse(tree.place("sys:a>ok|b>", List.of()).newBranch(), "and the branch grows in place again");
    }

    @Test
    void aBranchInsideAnotherAndIdenticalAnswersArePublishedOnce() {
        answer(tree.place("sys:a>", List.of()), 1);
        SessionTree.Placement a = tree.place("sys:a>ok|b>", List.of());
        SessionTree.Placement same = tree.place("sys:a>ok|b>", List.of()); // the same request twice at once
        answer(a, 2);
        answer(same, 2); // the same answer
        List<Trajectory> leaves = leaves();
        assertEquals(1, leaves.size(), "one root-to-leaf path, trained once");
        assertEquals("3", leaves.get(0).getMetadataOrThrow("tree_requests"), "all three requests counted");
        assertEquals(
                "true", leaves.get(0).getMetadataOrThrow("tree_main_line"), "the last request is inside the one leaf");
        assertEquals(
                List.of("r0", "r1", "r2"),
                leaves.get(0).getCapturedRequestIdsList(),
                "the twin's request is named by the trajectory that holds its tokens");
    }

    @Test
    void aTreeAtItsBranchLimitServesFurtherBranchesUncaptured() {
        for (int i = 0; i < 4; i++) {
            answer(tree.place("root" + i + ">", List.of()), 1);
        }
        assertNull(tree.place("root4>", List.of()), "a fifth branch is refused");
        assertFalse(tree.place("root0>ok|more>", List.of()).newBranch(), "growing a branch in place still works");
    }
}
