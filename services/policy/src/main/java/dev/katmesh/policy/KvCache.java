package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

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

    @Override
    public void close() {
        manager.close();
    }
}
