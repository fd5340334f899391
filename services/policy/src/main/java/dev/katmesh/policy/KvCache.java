package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * The keys and values of the positions a batch of sequences has seen, per layer, shaped
 * [batch, kvHeads, length, headDim] (keys after RoPE). It owns its arrays; close it to free them.
 */
public final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private int length;

    KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Number of cached positions. */
    public int length() {
        return length;
    }

    /** Appends this step's keys and values of one layer and returns the whole cache of that layer. */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        NDArray newK = keys[layer] == null ? k : keys[layer].concat(k, 2);
        NDArray newV = values[layer] == null ? v : values[layer].concat(v, 2);
        newK.attach(manager);
        newV.attach(manager);
        if (keys[layer] != null && keys[layer] != newK) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = newK;
        values[layer] = newV;
        if (layer == keys.length - 1) {
            length = (int) newK.getShape().get(2);
        }
        return new NDArray[] {newK, newV};
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
            keys[l] = replace(keys[l], padded(keys[l], n));
            values[l] = replace(values[l], padded(values[l], n));
        }
        length += n;
    }

    /** Drops the first {@code n} positions of every row (positions no row attends to any more). */
    void dropLeft(int n) {
        if (n == 0 || keys[0] == null) {
            return;
        }
        NDIndex rest = new NDIndex(":, :, " + n + ":, :");
        for (int l = 0; l < keys.length; l++) {
            keys[l] = replace(keys[l], keys[l].get(rest));
            values[l] = replace(values[l], values[l].get(rest));
        }
        length -= n;
    }

    /** Keeps only the given rows, in the given order. */
    void keepRows(int[] rows) {
        if (keys[0] == null) {
            return;
        }
        for (int l = 0; l < keys.length; l++) {
            keys[l] = replace(keys[l], pick(keys[l], rows));
            values[l] = replace(values[l], pick(values[l], rows));
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
            keys[l] = keys[l] == null ? copy(other.keys[l]) : replace(keys[l], keys[l].concat(other.keys[l], 0));
            values[l] = values[l] == null
                    ? copy(other.values[l])
                    : replace(values[l], values[l].concat(other.values[l], 0));
        }
        length = other.length;
    }

    private NDArray padded(NDArray a, int n) {
        Shape s = a.getShape();
        try (NDArray zeros =
                manager.zeros(new Shape(s.get(0), s.get(1), n, s.get(3)), a.getDataType(), a.getDevice())) {
            return zeros.concat(a, 2);
        }
    }

    private static NDArray pick(NDArray a, int[] rows) {
        if (rows.length == 1) {
            return a.get(new NDIndex(rows[0] + ":" + (rows[0] + 1)));
        }
        NDList parts = new NDList();
        for (int r : rows) {
            parts.add(a.get(new NDIndex(r + ":" + (r + 1))));
        }
        NDArray out = NDArrays.concat(parts, 0);
        parts.close(); // the slices are temporaries in the cache's manager
        return out;
    }

    private NDArray copy(NDArray a) {
        NDArray c = a.duplicate();
        c.attach(manager);
        return c;
    }

    /** Makes {@code next} this cache's, frees {@code old} and every temporary in between. */
    private NDArray replace(NDArray old, NDArray next) {
        next.attach(manager);
        if (old != next) {
            old.close();
        }
        return next;
    }

    @Override
    public void close() {
        manager.close();
    }
}
