package dev.katmesh.training;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Trajectories merged into a prefix tree and serialised depth-first into one sequence, so every shared
 * token is computed once (tree-structured trajectory training).
 *
 * <p>Row i of the sequence is a tree node: its token, its position (the depth: the same position the
 * token has in every trajectory through it), and the rows it may attend to (its ancestors and itself).
 * A loss term is an <em>occurrence</em>: trajectory s predicts its token t from row r (the node of
 * token t-1). Several trajectories through the same edge give several occurrences of one row and
 * target; each keeps its own weight, advantage and behaviour log-prob, so any per-token objective —
 * linear or clipped — sums to exactly what training each trajectory alone would give.
 *
 * <p>{@link #flat} builds the same structure for one trajectory alone (a chain): the reference that
 * tree training must equal.
 */
public final class TreeBatch {

    /** One loss term: sample {@code sample}'s token {@code tokenIndex}, predicted at {@code row}. */
    public record Occurrence(int row, int target, int sample, int tokenIndex) {}

    private final int[] ids;
    private final int[] positions;
    private final int[] parents;
    private final List<Occurrence> occurrences;
    private final int flatTokens;

    private TreeBatch(int[] ids, int[] positions, int[] parents, List<Occurrence> occurrences, int flatTokens) {
        this.ids = ids;
        this.positions = positions;
        this.parents = parents;
        this.occurrences = List.copyOf(occurrences);
        this.flatTokens = flatTokens;
    }

    /** As {@link #pack(List, int, int)} with one bound for every tree. */
    public static List<int[]> pack(List<TrainingSample> samples, int maxTokens) {
        return pack(samples, maxTokens, maxTokens);
    }

    /**
     * Splits samples into trees. Samples are taken in token order, which puts those sharing prefixes next to each
     * other; a tree's size is then exactly the sum of each sample's length minus its common prefix with the one
     * before. A sample that shares a prefix with the one before (at least a quarter of its tokens) joins its tree
     * while the tree stays within
     * {@code maxSharedTokens} rows (a session tree or a group on one prompt is computed once: a long one in pieces,
     * {@link CheckpointedForward}); an unrelated one joins while it stays within {@code maxTokens} (small samples are
     * batched, but attention between unrelated samples is wasted work, quadratic in the rows). A longer sample gets a
     * tree of its own. Returns, per tree, the indices of its samples in {@code samples}.
     */
    public static List<int[]> pack(List<TrainingSample> samples, int maxTokens, int maxSharedTokens) {
        Integer[] order = new Integer[samples.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(
                order,
                (x, y) -> Arrays.compare(samples.get(x).tokens(), samples.get(y).tokens()));
        List<int[]> trees = new ArrayList<>();
        List<Integer> current = new ArrayList<>();
        int rows = 0;
        int[] previous = null;
        for (int i : order) {
            int[] t = samples.get(i).tokens();
            int common =
                    previous == null ? 0 : Arrays.mismatch(previous, t) < 0 ? t.length : Arrays.mismatch(previous, t);
            int added = t.length - common;
            // Sharing: at least a quarter of the sample is its common prefix (a session's branches, a retried
            // turn); a chat template's first tokens alone do not make two conversations one tree.
            int bound = common > 0 && 4L * common >= t.length ? maxSharedTokens : maxTokens;
            if (!current.isEmpty() && rows + added > bound) {
                trees.add(current.stream().mapToInt(Integer::intValue).toArray());
                current.clear();
                rows = 0;
                added = t.length;
            }
            current.add(i);
            rows += added;
            previous = t;
        }
        if (!current.isEmpty()) {
            trees.add(current.stream().mapToInt(Integer::intValue).toArray());
        }
        return trees;
    }

    /** Merges the samples' token sequences into one prefix tree. */
    public static TreeBatch of(List<TrainingSample> samples) {
        // Build the trie: node 0.. with (parent, token) -> child.
        List<Integer> token = new ArrayList<>();
        List<Integer> parent = new ArrayList<>();
        List<List<Integer>> children = new ArrayList<>();
        Map<Long, Integer> index = new HashMap<>();
        int[][] paths = new int[samples.size()][];
        int flat = 0;
        for (int s = 0; s < samples.size(); s++) {
            int[] tokens = samples.get(s).tokens();
            flat += tokens.length;
            paths[s] = new int[tokens.length];
            int at = -1;
            for (int t = 0; t < tokens.length; t++) {
                long key = ((long) at << 32) | (tokens[t] & 0xFFFF_FFFFL);
                Integer node = index.get(key);
                if (node == null) {
                    node = token.size();
                    token.add(tokens[t]);
                    parent.add(at);
                    children.add(new ArrayList<>());
                    if (at >= 0) {
                        children.get(at).add(node);
                    }
                    index.put(key, node);
                }
                paths[s][t] = node;
                at = node;
            }
        }
        // Depth-first order: a node's subtree is contiguous, ancestors come first.
        int n = token.size();
        int[] row = new int[n];
        int[] ids = new int[n];
        int[] positions = new int[n];
        int[] parents = new int[n];
        int next = 0;
        int[] depth = new int[n];
        ArrayDeque<Integer> stack = new ArrayDeque<>();
        for (int root = n - 1; root >= 0; root--) {
            if (parent.get(root) == -1) {
                stack.push(root);
            }
        }
        while (!stack.isEmpty()) {
            int node = stack.pop();
            row[node] = next;
            ids[next] = token.get(node);
            int p = parent.get(node);
            depth[node] = p < 0 ? 0 : depth[p] + 1;
            positions[next] = depth[node];
            parents[next] = p < 0 ? -1 : row[p];
            next++;
            List<Integer> c = children.get(node);
            for (int i = c.size() - 1; i >= 0; i--) {
                stack.push(c.get(i));
            }
        }
        List<Occurrence> occ = new ArrayList<>();
        for (int s = 0; s < samples.size(); s++) {
            TrainingSample sample = samples.get(s);
            for (int t = 1; t < sample.tokens().length; t++) {
                if (sample.trainable()[t]) {
                    occ.add(new Occurrence(row[paths[s][t - 1]], sample.tokens()[t], s, t));
                }
            }
        }
        return new TreeBatch(ids, positions, parents, occ, flat);
    }

    /** One sample alone, as a chain (flat training); occurrences refer to sample index {@code sampleIndex}. */
    public static TreeBatch flat(TrainingSample sample, int sampleIndex) {
        int n = sample.tokens().length;
        int[] positions = new int[n];
        int[] parents = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
            parents[i] = i - 1;
        }
        List<Occurrence> occ = new ArrayList<>();
        for (int t = 1; t < n; t++) {
            if (sample.trainable()[t]) {
                occ.add(new Occurrence(t - 1, sample.tokens()[t], sampleIndex, t));
            }
        }
        return new TreeBatch(sample.tokens().clone(), positions, parents, occ, n);
    }

    public int[] ids() {
        return ids;
    }

    public int[] positions() {
        return positions;
    }

    public List<Occurrence> occurrences() {
        return occurrences;
    }

    /** Rows in the serialised tree. */
    public int size() {
        return ids.length;
    }

    /** Tokens the same trajectories have when trained one by one. */
    public int flatTokens() {
        return flatTokens;
    }

    /**
     * Where each row's subtree ends (exclusive): rows are in depth-first order, so row j's subtree is rows [j, end[j])
     * and row i sees row j iff j ≤ i < end[j] — the attention mask in O(n) numbers.
     */
    public long[] subtreeEnds() {
        int n = ids.length;
        long[] end = new long[n];
        for (int i = n - 1; i >= 0; i--) {
            end[i] = Math.max(end[i], i + 1);
            if (parents[i] >= 0) {
                end[parents[i]] = Math.max(end[parents[i]], end[i]);
            }
        }
        return end;
    }

    /** The tree attention mask: row i sees row j iff j is i or one of its ancestors. */
    public boolean[][] attention() {
        int n = ids.length;
        boolean[][] a = new boolean[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j >= 0; j = parents[j]) {
                a[i][j] = true;
            }
        }
        return a;
    }

    @Override
    public String toString() {
        return "TreeBatch[rows=" + ids.length + ", flatTokens=" + flatTokens + ", occurrences=" + occurrences.size()
                + ", ids=" + (ids.length <= 32 ? Arrays.toString(ids) : "...") + "]";
    }
}
