package dev.katmesh.training;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Session trees pruned to a token budget before training (KAT-Coder's trees kept to a compute budget; our
 * reconstruction, docs/algorithms.md "Trees pruned to a budget").
 *
 * <p>A tree is the samples of a batch that share prefixes (the rule of {@link TreeBatch#pack}); its size is the rows
 * tree training computes, the distinct tokens of its samples. A tree over the budget loses <em>final turns that
 * nothing acted on</em>, the least informative and least likely first, until it fits:
 *
 * <ul>
 *   <li>a turn is the context an agent added and the tokens the policy then sampled; only a sample's last turn can go,
 *       and only when the caller says nothing acted on it ({@code openEnd}: a captured leaf the session did not end on,
 *       such as an answer the agent sampled again) and no other sample of the tree extends it;
 *   <li>never dropped: a turn another turn extends (its tool calls ran, their results were read: a tool event), a
 *       session's final turn (its outcome), and a turn whose output reappears in another branch's context (a summary
 *       or a sub-agent's report: a memory event, found as a shared run of {@link #MEMORY_RUN} context tokens);
 *   <li>score = reach × entropy: entropy is the mean surprisal of the turn's sampled tokens under the policy that
 *       sampled them; reach is the product, over the tree's branch points on its path, of the branch's probability
 *       among its siblings (a sampled token's probability, 1 for context the environment chose), so an unlikely branch
 *       weighs little and a chain's turns all have reach 1.
 * </ul>
 *
 * A sample whose last turn goes is cut back to its previous turn's end, and dropped when that prefix is inside another
 * sample. A tree whose protected turns alone exceed the budget is kept at that and counted as over budget.
 */
public final class TreePruning {

    /** Context tokens a turn's output must share with another branch's context to count as a memory event. */
    public static final int MEMORY_RUN = 16;

    /** What pruning did to a batch. */
    public record Counts(
            int trees,
            int treesOverBudget,
            int treesStillOver,
            long rowsBefore,
            long rowsAfter,
            int turnsPruned,
            int samplesDropped,
            int samplesCut,
            int memoryEventsKept) {

        public static final Counts NONE = new Counts(0, 0, 0, 0, 0, 0, 0, 0, 0);

        public Counts plus(Counts o) {
            return new Counts(
                    trees + o.trees,
                    treesOverBudget + o.treesOverBudget,
                    treesStillOver + o.treesStillOver,
                    rowsBefore + o.rowsBefore,
                    rowsAfter + o.rowsAfter,
                    turnsPruned + o.turnsPruned,
                    samplesDropped + o.samplesDropped,
                    samplesCut + o.samplesCut,
                    memoryEventsKept + o.memoryEventsKept);
        }
    }

    /** The samples kept (in their order; cut ones replaced by their cut form) and the counts. */
    public record Pruned(List<TrainingSample> samples, Counts counts) {}

    private TreePruning() {}

    /** Prunes each tree of {@code samples} to at most {@code budget} rows; {@code budget <= 0}: no pruning. */
    public static Pruned prune(List<TrainingSample> samples, Predicate<TrainingSample> openEnd, int budget) {
        TrainingSample[] out = samples.toArray(TrainingSample[]::new);
        Counts counts = Counts.NONE;
        for (int[] tree : trees(samples)) {
            counts = counts.plus(pruneTree(out, tree, openEnd, budget));
        }
        List<TrainingSample> kept = new ArrayList<>();
        for (TrainingSample s : out) {
            if (s != null) {
                kept.add(s);
            }
        }
        return new Pruned(kept, counts);
    }

    /** Rows tree training computes for these samples: their distinct tokens, tree by tree. */
    public static long rows(List<TrainingSample> samples) {
        long rows = 0;
        for (int[] tree : trees(samples)) {
            rows += rows(samples.toArray(TrainingSample[]::new), tree);
        }
        return rows;
    }

    /** The trees of a batch, as {@link TreeBatch#pack} finds them without its size bounds: indices per tree. */
    static List<int[]> trees(List<TrainingSample> samples) {
        return TreeBatch.pack(samples, 0, Integer.MAX_VALUE);
    }

    private static Counts pruneTree(TrainingSample[] all, int[] tree, Predicate<TrainingSample> openEnd, int budget) {
        long before = rows(all, tree);
        if (budget <= 0 || before <= budget) {
            return new Counts(1, 0, 0, before, before, 0, 0, 0, 0);
        }
        double[] reach = reach(all, tree);
        List<Candidate> candidates = new ArrayList<>();
        int memory = 0;
        for (int k = 0; k < tree.length; k++) {
            TrainingSample s = all[tree[k]];
            if (!openEnd.test(s) || extended(all, tree, k)) {
                continue;
            }
            int[] turn = lastTurn(s);
            if (memoryEvent(all, tree, k, turn)) {
                memory++;
                continue;
            }
            candidates.add(new Candidate(k, turn[0], reach[k] * entropy(s, turn)));
        }
        candidates.sort(Comparator.comparingDouble(Candidate::score).thenComparingInt(Candidate::k));
        long rows = before;
        int turns = 0;
        int dropped = 0;
        int cut = 0;
        for (Candidate c : candidates) {
            if (rows <= budget) {
                break;
            }
            int index = tree[c.k];
            TrainingSample s = all[index];
            int shared = sharedWithOthers(all, tree, c.k, s.tokens());
            boolean inside = c.cut == 0 || shared >= c.cut;
            if (inside && dropped == tree.length - 1) {
                continue; // the tree's last sample (its main line was not in the batch): a tree is never emptied
            }
            rows -= s.tokens().length - Math.max(shared, inside ? 0 : c.cut);
            all[index] = inside ? null : cut(s, c.cut);
            turns++;
            if (inside) {
                dropped++;
            } else {
                cut++;
            }
        }
        return new Counts(1, 1, rows > budget ? 1 : 0, before, rows, turns, dropped, cut, memory);
    }

    private record Candidate(int k, int cut, double score) {}

    private static long rows(TrainingSample[] all, int[] tree) {
        List<int[]> seqs = new ArrayList<>();
        for (int i : tree) {
            if (all[i] != null) {
                seqs.add(all[i].tokens());
            }
        }
        seqs.sort(Arrays::compare);
        long rows = 0;
        int[] previous = null;
        for (int[] t : seqs) {
            rows += t.length - (previous == null ? 0 : common(previous, t));
            previous = t;
        }
        return rows;
    }

    /** The most leading tokens {@code tokens} shares with another kept sample of the tree. */
    private static int sharedWithOthers(TrainingSample[] all, int[] tree, int k, int[] tokens) {
        int shared = 0;
        for (int j = 0; j < tree.length; j++) {
            if (j != k && all[tree[j]] != null) {
                shared = Math.max(shared, common(all[tree[j]].tokens(), tokens));
            }
        }
        return shared;
    }

    /** Whether another sample of the tree goes on past sample k's last token (something acted on its last turn). */
    private static boolean extended(TrainingSample[] all, int[] tree, int k) {
        int[] t = all[tree[k]].tokens();
        for (int j = 0; j < tree.length; j++) {
            int[] u = all[tree[j]].tokens();
            if (j != k && u.length > t.length && Arrays.equals(u, 0, t.length, t, 0, t.length)) {
                return true;
            }
        }
        return false;
    }

    private static boolean generated(TrainingSample s, int t) {
        return s.trainable()[t] || !Float.isNaN(s.behaviourLogprobs()[t]);
    }

    /**
     * The last turn of a sample: {@code {cut, start}} where cut is the end of the turn before (0 when none), the turn
     * being its context from cut on and its sampled tokens from start on.
     */
    static int[] lastTurn(TrainingSample s) {
        int t = s.tokens().length - 1;
        while (t > 0 && !generated(s, t)) {
            t--; // trailing context (an end-of-turn token the template adds)
        }
        while (t > 0 && generated(s, t - 1)) {
            t--;
        }
        int start = t;
        int cut = start;
        while (cut > 0 && !generated(s, cut - 1)) {
            cut--;
        }
        return new int[] {cut, start};
    }

    /** Mean surprisal of the turn's sampled tokens under their behaviour policy; 0 where none is known. */
    private static double entropy(TrainingSample s, int[] turn) {
        double sum = 0;
        int n = 0;
        for (int t = turn[1]; t < s.tokens().length; t++) {
            float lp = s.behaviourLogprobs()[t];
            if (!Float.isNaN(lp) && !Float.isInfinite(lp)) {
                sum -= lp;
                n++;
            }
        }
        return n == 0 ? 0 : sum / n;
    }

    /**
     * Each sample's reach: the product over its path's branch points of its branch's share among the branches there
     * (a sampled token weighs its probability, a context token 1).
     */
    private static double[] reach(TrainingSample[] all, int[] tree) {
        int n = tree.length;
        int[][] lcp = new int[n][n];
        for (int a = 0; a < n; a++) {
            for (int b = a + 1; b < n; b++) {
                lcp[a][b] = lcp[b][a] = common(all[tree[a]].tokens(), all[tree[b]].tokens());
            }
        }
        double[] out = new double[n];
        for (int k = 0; k < n; k++) {
            int[] tokens = all[tree[k]].tokens();
            Set<Integer> points = new HashSet<>(); // where another sample leaves this one's path
            for (int j = 0; j < n; j++) {
                if (j != k && lcp[k][j] < Math.min(tokens.length, all[tree[j]].tokens().length)) {
                    points.add(lcp[k][j]);
                }
            }
            double r = 1;
            for (int t : points) {
                Set<Integer> seen = new HashSet<>(); // the distinct branches at t, each weighed once
                double total = 0;
                for (int j = 0; j < n; j++) {
                    int[] u = all[tree[j]].tokens();
                    if ((j == k || lcp[k][j] >= t) && u.length > t && seen.add(u[t])) {
                        total += weight(all[tree[j]], t);
                    }
                }
                r *= weight(all[tree[k]], t) / total;
            }
            out[k] = r;
        }
        return out;
    }

    private static double weight(TrainingSample s, int t) {
        float lp = s.behaviourLogprobs()[t];
        return generated(s, t) && !Float.isNaN(lp) ? Math.exp(lp) : 1.0;
    }

    /**
     * Whether the turn's sampled tokens reappear as context in another branch: some run of {@link #MEMORY_RUN} of them
     * equals a run of context tokens another sample has past the point where it leaves this one.
     */
    private static boolean memoryEvent(TrainingSample[] all, int[] tree, int k, int[] turn) {
        int[] mine = all[tree[k]].tokens();
        if (mine.length - turn[1] < MEMORY_RUN) {
            return false;
        }
        Set<Long> runs = new HashSet<>();
        for (int s = turn[1]; s + MEMORY_RUN <= mine.length; s++) {
            runs.add(runHash(mine, s));
        }
        for (int j = 0; j < tree.length; j++) {
            TrainingSample other = all[tree[j]];
            if (j == k) {
                continue;
            }
            int[] u = other.tokens();
            int context = 0; // context tokens in a row ending at t
            for (int t = common(u, mine); t < u.length; t++) {
                context = generated(other, t) ? 0 : context + 1;
                if (context >= MEMORY_RUN && runs.contains(runHash(u, t - MEMORY_RUN + 1))) {
                    return true;
                }
            }
        }
        return false;
    }

    private static long runHash(int[] tokens, int from) {
        long h = 1125899906842597L;
        for (int i = from; i < from + MEMORY_RUN; i++) {
            h = 31 * h + tokens[i];
        }
        return h;
    }

    private static TrainingSample cut(TrainingSample s, int length) {
        return new TrainingSample(
                Arrays.copyOf(s.tokens(), length),
                Arrays.copyOf(s.trainable(), length),
                Arrays.copyOf(s.behaviourLogprobs(), length),
                s.advantage());
    }

    private static int common(int[] a, int[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? a.length : m;
    }
}
