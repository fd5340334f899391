package dev.katmesh.training;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * Data mixing for file stages: each draw picks a source with probability proportional to its weight,
 * then — when the stage balances by tags — one of that source's tag combinations uniformly (so rare
 * languages or task archetypes are drawn as often as common ones), then a record of it. Draws are a
 * function of (seed, step), so a resumed stage draws what it would have drawn.
 *
 * @param <T> a record
 */
public final class DataMix<T> {

    /** One source's records, grouped by their tag combination. */
    public record Pool<T>(String name, double weight, Map<String, List<T>> byTags) {}

    /** A drawn record and where it came from (for the realised-mix metric). */
    public record Draw<T>(T record, String source, String tags) {}

    private final List<Pool<T>> pools;
    private final double totalWeight;
    private final long seed;

    public DataMix(List<Pool<T>> pools, long seed) {
        this.pools = pools.stream()
                .filter(p -> p.byTags().values().stream().anyMatch(l -> !l.isEmpty()))
                .toList();
        if (this.pools.isEmpty()) {
            throw new IllegalArgumentException("no records in any source");
        }
        this.totalWeight = this.pools.stream().mapToDouble(Pool::weight).sum();
        this.seed = seed;
    }

    /** Groups records by the values of {@code tags} (one group when no tags are given). */
    public static <T> Map<String, List<T>> group(
            List<T> records, List<String> tags, Function<T, Map<String, String>> tagsOf) {
        Map<String, List<T>> out = new LinkedHashMap<>();
        for (T r : records) {
            Map<String, String> t = tagsOf.apply(r);
            StringBuilder key = new StringBuilder();
            for (String tag : tags) {
                key.append(key.length() == 0 ? "" : ",").append(tag).append('=').append(t.getOrDefault(tag, "none"));
            }
            out.computeIfAbsent(key.toString(), k -> new ArrayList<>()).add(r);
        }
        return out;
    }

    /** The draws of one step. */
    public List<Draw<T>> draw(long step, int count) {
        // SplittableRandom mixes its seed: nearby (seed, step) pairs give independent draws.
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
        List<Draw<T>> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            double u = r.nextDouble() * totalWeight;
            Pool<T> pool = pools.get(pools.size() - 1);
            for (Pool<T> p : pools) {
                u -= p.weight();
                if (u <= 0) {
                    pool = p;
                    break;
                }
            }
            List<String> keys = pool.byTags().entrySet().stream()
                    .filter(e -> !e.getValue().isEmpty())
                    .map(Map.Entry::getKey)
                    .toList();
            String key = keys.get(r.nextInt(keys.size()));
            List<T> records = pool.byTags().get(key);
            out.add(new Draw<>(records.get(r.nextInt(records.size())), pool.name(), key));
        }
        return out;
    }
}
