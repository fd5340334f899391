package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TreePruningTest {

    /** A conversation built turn by turn: context the agent added, then tokens sampled with a log-prob each. */
    private static final class Seq {
        final List<Integer> tokens = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();

        Seq context(int... ids) {
            for (int id : ids) {
                tokens.add(id);
                logprobs.add(Float.NaN);
            }
            return this;
        }

        Seq sampled(float logprob, int... ids) {
            for (int id : ids) {
                tokens.add(id);
                logprobs.add(logprob);
            }
            return this;
        }

        Seq copy() {
            Seq s = new Seq();
            s.tokens.addAll(tokens);
            s.logprobs.addAll(logprobs);
            return s;
        }

        TrainingSample sample() {
            int n = tokens.size();
            int[] t = new int[n];
            boolean[] trainable = new boolean[n];
            float[] lp = new float[n];
            for (int i = 0; i < n; i++) {
                t[i] = tokens.get(i);
                lp[i] = logprobs.get(i);
                trainable[i] = !Float.isNaN(lp[i]);
            }
            return new TrainingSample(t, trainable, lp, 1);
        }
    }

    private static int[] run(int from, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = from + i;
        }
        return out;
    }

    /**
     * A session of two turns in which the agent sampled each answer three times and went on from the last: the
     * history (prompt 20, first answer 10, tool result 10, final answer 10) and four dead ends of 10 tokens each.
     */
    private record Session(List<TrainingSample> samples, Set<TrainingSample> open, TrainingSample mainLine) {}

    private static Session session(float[] firstTurnAlternatives, float[] secondTurnAlternatives) {
        Seq prompt = new Seq().context(run(1, 20));
        List<TrainingSample> samples = new ArrayList<>();
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        int id = 1000;
        for (float lp : firstTurnAlternatives) {
            TrainingSample s = prompt.copy().sampled(lp, run(id, 10)).sample();
            id += 100;
            samples.add(s);
            open.add(s);
        }
        Seq history = prompt.copy().sampled(-0.5f, run(100, 10)).context(run(200, 10));
        for (float lp : secondTurnAlternatives) {
            TrainingSample s = history.copy().sampled(lp, run(id, 10)).sample();
            id += 100;
            samples.add(s);
            open.add(s);
        }
        TrainingSample main = history.copy().sampled(-0.5f, run(300, 10)).sample();
        samples.add(main);
        return new Session(samples, open, main);
    }

    @Test
    void aTreeWithinItsBudgetIsTrainedAsItIs() {
        Session s = session(new float[] {-1f, -2f}, new float[] {-1f, -2f});
        assertEquals(
                90, TreePruning.rows(s.samples), "prompt 20 + answer 10 + result 10 + final 10 + 4 dead ends × 10");
        TreePruning.Pruned p = TreePruning.prune(s.samples, s.open::contains, 90);
        assertEquals(s.samples, p.samples());
        assertEquals(0, p.counts().treesOverBudget());
        assertEquals(90, p.counts().rowsAfter());
    }

    @Test
    void deadEndsGoLeastInformativeFirstUntilTheTreeFitsAndTheHistoryStays() {
        // Entropies 1, 2 (first turn) and 0.25, 3 (second); every branch point also weighs reach.
        Session s = session(new float[] {-1f, -2f}, new float[] {-0.25f, -3f});
        TreePruning.Pruned p = TreePruning.prune(s.samples, s.open::contains, 70);
        assertEquals(70, p.counts().rowsAfter(), "two dead ends of 10 tokens go: exactly down to the budget");
        assertEquals(2, p.counts().turnsPruned());
        assertEquals(2, p.counts().samplesDropped(), "a dead end's previous turn is inside the main line");
        assertTrue(p.samples().contains(s.mainLine), "the session's final turn is never pruned");
        // Score = reach × entropy, by hand. At the first branch point (token 20) the weights are e^-1, e^-2 and the
        // history's e^-0.5 (total 1.110): reach 0.331, 0.122 and 0.546. At the second (token 40), e^-0.25, e^-3 and
        // the final answer's e^-0.5 (total 1.436): reach 0.546 × 0.542 = 0.296 and 0.546 × 0.035 = 0.019.
        // Scores: first turn 0.331 × 1 and 0.122 × 2 = 0.244; second turn 0.296 × 0.25 = 0.074 and 0.019 × 3 = 0.057.
        assertEquals(
                List.of(s.samples.get(0), s.samples.get(1), s.mainLine),
                p.samples(),
                "the second turn's dead ends scored least (0.057, 0.074) and went");
        assertEquals(
                List.of(s.samples.get(0), s.mainLine),
                TreePruning.prune(s.samples, s.open::contains, 60).samples(),
                "at 60 tokens the first turn's e^-2 answer (0.244) goes next");
        assertEquals(
                4, TreePruning.prune(s.samples, s.open::contains, 80).samples().size(), "at 80 only the least, 0.057");
        assertTrue(TreePruning.prune(s.samples, s.open::contains, 80).samples().contains(s.samples.get(2)));
        assertEquals(70, TreePruning.rows(p.samples()));
    }

    @Test
    void anUnlikelyBranchWeighsLessThanALikelyOneOfTheSameEntropy() {
        // Two first-turn alternatives of equal entropy per token, but the first's first token is far less likely.
        Seq prompt = new Seq().context(run(1, 20));
        TrainingSample unlikely =
                prompt.copy().sampled(-6f, 500).sampled(-1f, run(501, 9)).sample();
        TrainingSample likely =
                prompt.copy().sampled(-0.1f, 600).sampled(-1.655f, run(601, 9)).sample();
        TrainingSample main = prompt.copy().sampled(-0.5f, run(700, 10)).sample();
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        open.add(unlikely);
        open.add(likely);
        List<TrainingSample> all = List.of(unlikely, likely, main);
        TreePruning.Pruned p = TreePruning.prune(all, open::contains, 40);
        assertEquals(List.of(likely, main), p.samples(), "reach decides between equally surprising answers");
    }

    @Test
    void aTreeWhoseProtectedTurnsExceedTheBudgetIsKeptAtThemAndCounted() {
        Session s = session(new float[] {-1f}, new float[] {-1f});
        TreePruning.Pruned p = TreePruning.prune(s.samples, s.open::contains, 30);
        assertEquals(List.of(s.mainLine), p.samples(), "every dead end went; the history and the final turn stay");
        assertEquals(50, p.counts().rowsAfter());
        assertEquals(1, p.counts().treesStillOver());
        TreePruning.Pruned none = TreePruning.prune(s.samples, x -> false, 30);
        assertEquals(s.samples, none.samples(), "nothing is open-ended: nothing goes");
        assertEquals(1, none.counts().treesStillOver());
    }

    @Test
    void aTurnThatAnotherSampleExtendsIsNeverDropped() {
        // The first turn's answer is open by the caller's word, but another sample goes on from it: it was acted on.
        Seq prompt = new Seq().context(run(1, 20)).sampled(-2f, run(100, 10));
        TrainingSample first = prompt.sample();
        TrainingSample longer =
                prompt.copy().context(run(200, 10)).sampled(-0.1f, run(300, 10)).sample();
        TreePruning.Pruned p = TreePruning.prune(List.of(first, longer), x -> x == first, 10);
        assertEquals(2, p.samples().size());
        assertEquals(0, p.counts().turnsPruned());
    }

    @Test
    void aTurnWhoseOutputReappearsInAnotherBranchsContextIsAMemoryEvent() {
        // A summary sampled in a side request, then pasted into the main conversation's context.
        Seq prompt = new Seq().context(run(1, 20));
        TrainingSample summary =
                prompt.copy().context(900).sampled(-0.01f, run(800, 20)).sample();
        TrainingSample main = prompt.copy()
                .context(901)
                .sampled(-0.5f, run(100, 5))
                .context(run(800, 20))
                .sampled(-0.5f, run(300, 5))
                .sample();
        TrainingSample chatter =
                prompt.copy().context(902).sampled(-3f, run(400, 20)).sample();
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        open.add(summary);
        open.add(chatter);
        TreePruning.Pruned p = TreePruning.prune(List.of(summary, main, chatter), open::contains, 20);
        assertEquals(List.of(summary, main), p.samples(), "the high-entropy chatter goes; the summary is kept");
        assertEquals(1, p.counts().memoryEventsKept());
        assertEquals(1, p.counts().treesStillOver());
    }

    @Test
    void aDeadEndBranchOfSeveralTurnsLosesOnlyItsLastTurn() {
        // The agent went two turns down a branch, then back to the root and on (the user rewound): the branch's first
        // turn's tool call ran and was read back, a tool event; only the turn it ended on can go.
        Seq prompt = new Seq().context(run(1, 20));
        TrainingSample branch = prompt.copy()
                .context(50)
                .sampled(-1f, run(100, 10))
                .context(run(200, 10))
                .sampled(-1f, run(300, 10))
                .sample();
        TrainingSample main =
                prompt.copy().context(51).sampled(-1f, run(400, 10)).sample();
        TreePruning.Pruned p = TreePruning.prune(List.of(branch, main), x -> x == branch, 10);
        assertEquals(2, p.samples().size());
        assertEquals(1, p.counts().samplesCut());
        TrainingSample cut = p.samples().get(0);
        assertEquals(31, cut.tokens().length, "cut back to the end of its first answer");
        assertTrue(Arrays.equals(branch.tokens(), 0, 31, cut.tokens(), 0, 31));
        assertSame(main, p.samples().get(1));
        assertEquals(42, p.counts().rowsAfter(), "20 + 1 + 10 of the branch, 1 + 10 of the main line");
        assertEquals(1, p.counts().treesStillOver());
    }

    @Test
    void unrelatedConversationsArePrunedAsSeparateTrees() {
        Session a = session(new float[] {-1f}, new float[] {});
        Seq other = new Seq().context(run(5000, 30)).sampled(-1f, run(6000, 10));
        TrainingSample b = other.sample();
        List<TrainingSample> all = new ArrayList<>(a.samples);
        all.add(b);
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        open.addAll(a.open);
        open.add(b); // alone in its tree: nothing extends it, and it fits
        TreePruning.Pruned p = TreePruning.prune(all, open::contains, 50);
        assertEquals(2, p.counts().trees());
        assertEquals(1, p.counts().treesOverBudget());
        assertEquals(List.of(a.mainLine, b), p.samples());
    }

    @Test
    void aTreeOfOpenEndsAloneKeepsOneSample() {
        // The batch holds only a session's dead ends (its main line was dropped before it, e.g. as too long).
        Seq prompt = new Seq().context(run(1, 20));
        TrainingSample a = prompt.copy().sampled(-1f, run(100, 10)).sample();
        TrainingSample b = prompt.copy().sampled(-2f, run(200, 10)).sample();
        TreePruning.Pruned p = TreePruning.prune(List.of(a, b), x -> true, 1);
        // Reach e^-1 / (e^-1 + e^-2) = 0.731 and 0.269: scores 0.731 × 1 and 0.269 × 2 = 0.538, so b goes first.
        assertEquals(List.of(a), p.samples(), "the lower score goes; the last sample stays, so no group is emptied");
        assertEquals(1, p.counts().treesStillOver());
    }
}
