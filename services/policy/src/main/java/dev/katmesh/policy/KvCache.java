package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import java.util.function.UnaryOperator;

/**
 * The keys and values of the positions a batch of sequences has seen, per layer, shaped
 * [batch, kvHeads, length, headDim] (keys after RoPE). It owns its arrays; close it to free them.
 *
 * <p>Each layer's arrays have room beyond {@code length} (their capacity), and a step's keys and values are written
 * into that room in place: concatenating the whole cache at every step copied it into freshly allocated memory in
 * every layer, which at 1 024 positions of the Qwen3-0.6B shape cost more than the step's matrix products (fresh
 * pages fault in one by one). Room grows by an eighth of the length (at least {@link #MIN_GROWTH} positions), or
 * exactly to what {@link #reserve} was told.
 */
public final class KvCache implements AutoCloseable {

    /** The fewest positions a growing cache adds: growth copies the cache, so it must be rare. */
    static final int MIN_GROWTH = 64;

    private final NDManager manager;
    private final NDArray[] keys; // [rows, kvHeads, capacity, headDim]; positions [0, length) hold data
    private final NDArray[] values;
    private int length;
    private int reserved; // the length the caller expects to reach; 0: unknown

    KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Number of cached positions. */
    public int length() {
        return length;
    }

    /** Makes room for {@code positions} in all, so that growing to them allocates once (a hint; never shrinks). */
    public void reserve(int positions) {
        reserved = Math.max(reserved, positions);
    }

    /**
     * Writes this step's keys and values of one layer after the cached ones and answers the layer's whole cache
     * [rows, kvHeads, length + t, headDim] as views owned by {@code scope} (valid until the next append).
     */
    NDArray[] append(NDManager scope, int layer, NDArray k, NDArray v) {
        long t = k.getShape().get(2);
        if (keys[layer] == null) {
            keys[layer] = storage(k, capacity(t));
            values[layer] = storage(v, capacity(t));
        } else {
            if (length + t > keys[layer].getShape().get(2)) {
                long room = capacity(length + t);
                keys[layer] = replace(keys[layer], withValid(keys[layer], a -> storage(a, room)));
                values[layer] = replace(values[layer], withValid(values[layer], a -> storage(a, room)));
            }
            NDIndex step = new NDIndex(":, :, {}:{}, :", length, length + t);
            keys[layer].set(step, k);
            values[layer].set(step, v);
        }
        NDArray[] out = {prefix(keys[layer], length + t), prefix(values[layer], length + t)};
        for (NDArray a : out) {
            a.attach(scope);
        }
        if (layer == keys.length - 1) {
            length += (int) t;
        }
        return out;
    }

    private long capacity(long needed) {
        return Math.max(reserved, needed + Math.max(MIN_GROWTH, needed / 8));
    }

    /** An array of {@code capacity} positions holding {@code data}'s positions first (in the cache's manager). */
    private NDArray storage(NDArray data, long capacity) {
        Shape s = data.getShape();
        NDArray a =
                manager.zeros(new Shape(s.get(0), s.get(1), capacity, s.get(3)), data.getDataType(), data.getDevice());
        a.set(new NDIndex(":, :, 0:{}, :", s.get(2)), data);
        return a;
    }

    /** The first {@code n} positions of a layer's array: a view, in the array's manager until attached elsewhere. */
    private static NDArray prefix(NDArray a, long n) {
        return a.get(new NDIndex(":, :, 0:{}, :", n));
    }

    /**
     * {@code f} of a layer's cached positions (a temporary view, closed after: a view left open keeps the memory of
     * the array it views after that array is replaced).
     */
    private NDArray withValid(NDArray a, UnaryOperator<NDArray> f) {
        try (NDArray view = prefix(a, length)) {
            NDArray out = f.apply(view);
            if (out == view) {
                throw new IllegalStateException("a cache operation must make a new array, not answer its view");
            }
            return out;
        }
    }

    /** Arrays this cache's manager holds: two per layer when nothing leaks into it. */
    int managedArrays() {
        return manager.getManagedArrays().size();
    }

    /** Number of sequences (rows); 0 before the first append. */
    int rows() {
        return keys[0] == null ? 0 : (int) keys[0].getShape().get(0);
    }

    /**
     * Adds {@code n} empty positions in front of every row, so that rows of different lengths share one
     * width; callers mask them out as keys.
     */
    void padLeft(int n) {
        if (n == 0 || keys[0] == null) {
            return;
        }
        for (int l = 0; l < keys.length; l++) {
            keys[l] = replace(keys[l], withValid(keys[l], a -> padded(a, n)));
            values[l] = replace(values[l], withValid(values[l], a -> padded(a, n)));
        }
        length += n;
    }

    /** Drops the first {@code n} positions of every row (positions no row attends to any more). */
    void dropLeft(int n) {
        if (n == 0 || keys[0] == null) {
            return;
        }
        NDIndex rest = new NDIndex(":, :, {}:, :", n);
        for (int l = 0; l < keys.length; l++) {
            keys[l] = replace(keys[l], withValid(keys[l], a -> dropped(a, rest)));
            values[l] = replace(values[l], withValid(values[l], a -> dropped(a, rest)));
        }
        length -= n;
    }

    /** Keeps only the given rows, in the given order. */
    void keepRows(int[] rows) {
        if (keys[0] == null) {
            return;
        }
        for (int l = 0; l < keys.length; l++) {
            keys[l] = replace(keys[l], withValid(keys[l], a -> pick(a, rows)));
            values[l] = replace(values[l], withValid(values[l], a -> pick(a, rows)));
        }
    }

    /** Appends the rows of {@code other} (same length) below this cache's rows; {@code other} stays open. */
    void appendRows(KvCache other) {
        if (other.keys[0] == null) {
            return;
        }
        if (keys[0] != null && other.length != length) {
            throw new IllegalArgumentException(
                    "caches of lengths " + length + " and " + other.length + " cannot be stacked");
        }
        for (int l = 0; l < keys.length; l++) {
            NDArray k = other.withValid(other.keys[l], NDArray::duplicate);
            NDArray v = other.withValid(other.values[l], NDArray::duplicate);
            if (keys[l] == null) {
                keys[l] = replace(null, k);
                values[l] = replace(null, v);
            } else {
                keys[l] = replace(keys[l], withValid(keys[l], a -> a.concat(k, 0)));
                values[l] = replace(values[l], withValid(values[l], a -> a.concat(v, 0)));
                k.close();
                v.close();
            }
        }
        length = other.length;
    }

    private static NDArray dropped(NDArray a, NDIndex rest) {
        try (NDArray view = a.get(rest)) {
            return view.duplicate();
        }
    }

    private NDArray padded(NDArray a, int n) {
        Shape s = a.getShape();
        try (NDArray zeros =
                manager.zeros(new Shape(s.get(0), s.get(1), n, s.get(3)), a.getDataType(), a.getDevice())) {
            return zeros.concat(a, 2);
        }
    }

    private static NDArray pick(NDArray a, int[] rows) {
        NDList parts = new NDList();
        for (int r : rows) {
            parts.add(a.get(new NDIndex(r + ":" + (r + 1))));
        }
        NDArray out = rows.length == 1 ? parts.get(0).duplicate() : NDArrays.concat(parts, 0);
        parts.close(); // the slices are temporaries in the cache's manager
        return out;
    }

    /** Makes {@code next} this cache's, frees {@code old} and every temporary in between. */
    private NDArray replace(NDArray old, NDArray next) {
        next.attach(manager);
        if (old != null && old != next) {
            old.close();
        }
        return next;
    }

    @Override
    public void close() {
        manager.close();
    }
}
