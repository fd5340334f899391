package dev.katmesh.tasks;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Online difficulty sampling of RL tasks: which task family to send to rollout next.
 *
 * <p>A group of G rollouts teaches GRPO only when its rewards differ (dynamic sampling drops the others),
 * which for a family the policy solves with probability p happens with probability
 * {@code 1 − p^G − (1 − p)^G}. Families the policy always or never solves cost a group's generation
 * and teach nothing. The sampler keeps, per family, the solved and attempted episodes seen on the scored
 * stream, estimates p as the posterior mean under a uniform prior, and draws the next family with
 * probability proportional to that chance of a useful group, never below {@code floor}: an estimate can be
 * wrong early and goes stale as the policy learns, so every family keeps being tried. Within a family tasks
 * are sent in turn. (Online difficulty filtering: Bae et al., 2025; Kimi k1.5's curriculum sampling.)
 *
 * @param <T> the task type
 */
public final class DifficultySampler<T> {

    private static final class Family<T> {
        final List<T> tasks;
        int next;
        long solved;
        long attempted;

        Family(List<T> tasks) {
            this.tasks = List.copyOf(tasks);
        }
    }

    private final Map<String, Family<T>> families = new LinkedHashMap<>();
    private final int groupSize;
    private final double floor;
    private final SplittableRandom random;

    /**
     * @param tasksByFamily the tasks, by family (e.g. the suite's template tag); each family non-empty
     * @param groupSize     rollouts per task group (GRPO's G)
     * @param floor         the least weight of a family, in (0, 1]
     * @param seed          of the draws
     */
    public DifficultySampler(Map<String, List<T>> tasksByFamily, int groupSize, double floor, long seed) {
        if (tasksByFamily.isEmpty() || tasksByFamily.values().stream().anyMatch(List::isEmpty)) {
            throw new IllegalArgumentException("every family needs at least one task");
        }
        if (groupSize < 2) {
            throw new IllegalArgumentException(
                    "a group needs at least 2 rollouts to have a reward variance, got " + groupSize);
        }
        if (!(floor > 0 && floor <= 1)) {
            throw new IllegalArgumentException("floor must be in (0, 1], got " + floor);
        }
        tasksByFamily.forEach((k, v) -> families.put(k, new Family<>(v)));
        this.groupSize = groupSize;
        this.floor = floor;
        this.random = new SplittableRandom(seed);
    }

    /** One scored episode of a family: solved or not. Unknown families are ignored (another run's tasks). */
    public synchronized void record(String family, boolean solved) {
        Family<T> f = families.get(family);
        if (f != null) {
            f.attempted++;
            if (solved) {
                f.solved++;
            }
        }
    }

    /** The estimated chance that a group of this family has a reward variance. */
    public synchronized double usefulGroupChance(String family) {
        Family<T> f = families.get(family);
        double p = (f.solved + 1.0) / (f.attempted + 2.0);
        return 1 - Math.pow(p, groupSize) - Math.pow(1 - p, groupSize);
    }

    /** The next task to send: a family drawn by its weight, then that family's next task in turn. */
    public synchronized T next() {
        List<String> keys = new ArrayList<>(families.keySet());
        double[] w = new double[keys.size()];
        double total = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.max(floor, usefulGroupChance(keys.get(i)));
            total += w[i];
        }
        double u = random.nextDouble() * total;
        int pick = w.length - 1;
        for (int i = 0; i < w.length; i++) {
            u -= w[i];
            if (u < 0) {
                pick = i;
                break;
            }
        }
        Family<T> f = families.get(keys.get(pick));
        return f.tasks.get(f.next++ % f.tasks.size());
    }

    /** Per family: solved/attempted and the chance of a useful group, for logs and reports. */
    public synchronized Map<String, String> summary() {
        Map<String, String> out = new LinkedHashMap<>();
        families.forEach((k, f) -> out.put(
                k,
                String.format(
                        Locale.ROOT,
                        "%d/%d solved, useful-group chance %.2f",
                        f.solved,
                        f.attempted,
                        usefulGroupChance(k))));
        return out;
    }
}
