package dev.katmesh.policy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;

/**
 * A Qwen2/Qwen3 decoder on DJL, read top to bottom:
 *
 * <pre>
 *   x = embed[ids]
 *   for each layer:
 *     h = rmsnorm(x)
 *     q, k, v = h·Wq (+bq), h·Wk (+bk), h·Wv (+bv)        per head; Qwen3: rmsnorm(q), rmsnorm(k)
 *     q, k = rope(q, positions), rope(k, positions)
 *     k, v = cache ++ k, cache ++ v                          grouped-query: each kv head serves H/KV heads
 *     x = x + softmax(q·kᵀ/√d + mask)·v · Wo
 *     x = x + (silu(rmsnorm(x)·Wg) ⊙ rmsnorm(x)·Wu) · Wd
 *   logits = rmsnorm(x) · Wlm                                 Wlm = embedᵀ when tied
 * </pre>
 *
 * <p>Parameters keep Hugging Face's names and layouts ([out, in] for projections), so checkpoints map
 * one to one and gradients come out in the same layout. The attention mask is explicit ([batch][query]
 * [key], true = may attend), so one forward serves causal decoding, left-padded batches and tree
 * attention for training. Everything runs on the configured device; nothing here assumes the CPU.
 *
 * <p>Memory: every array a forward creates belongs to the caller's {@code scope} manager (weights'
 * derived views are attached to it too), so closing the scope frees a step completely.
 */
public final class DecoderModel implements AutoCloseable {

    /** Additive mask value: finite, so a fully masked row (a pad query) gives no NaN. */
    private static final float MASKED = -1e30f;

    private final ModelConfig config;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private LoraAdapters adapters; // null: the projections are the weights alone

    private DecoderModel(ModelConfig config, NDManager manager, Map<String, NDArray> params) {
        this.config = config;
        this.manager = manager;
        this.params = params;
    }

    public ModelConfig config() {
        return config;
    }

    public Device device() {
        return manager.getDevice();
    }

    /** The manager owning the weights; callers make per-step sub-managers from it. */
    public NDManager manager() {
        return manager;
    }

    /** Parameters by Hugging Face name, in a stable order (for optimizers and checkpoints). */
    public Map<String, NDArray> parameters() {
        return params;
    }

    /** What training updates: the adapters' arrays when adapters are attached (the base frozen), else every weight. */
    public Map<String, NDArray> trainableParameters() {
        return adapters == null ? params : adapters.parameters();
    }

    /** The adapters applied in every forward now, if any. */
    public Optional<LoraAdapters> adapters() {
        return Optional.ofNullable(adapters);
    }

    /**
     * Applies {@code next} (null: none) in every forward from now on, leaving the weights as they are; returns the
     * adapters it replaces, for the caller to close. Callers swap between forwards (inference: between two steps).
     */
    public LoraAdapters attachAdapters(LoraAdapters next) {
        LoraAdapters previous = adapters;
        adapters = next;
        return previous;
    }

    /**
     * Folds the attached adapters into the weights (W += (α/r)·B·A) and detaches them: the same function, with no
     * adapter arithmetic per forward. Returns the adapters, for the caller to close or to {@link #unmerge}.
     */
    public LoraAdapters mergeAdapters() {
        if (adapters == null) {
            throw new IllegalStateException("no adapters attached");
        }
        adapters.addTo(params, 1f);
        return attachAdapters(null);
    }

    /** Takes merged adapters back out of the weights (W -= (α/r)·B·A): exact up to float rounding. */
    public void unmerge(LoraAdapters merged) {
        merged.addTo(params, -1f);
    }

    // ------------------------------------------------------------------ construction

    /** The names and shapes of every parameter of this architecture, in a stable order. */
    public static Map<String, long[]> parameterShapes(ModelConfig c) {
        Map<String, long[]> s = new LinkedHashMap<>();
        long h = c.hiddenSize();
        long qDim = (long) c.numHeads() * c.headDim();
        long kvDim = (long) c.numKvHeads() * c.headDim();
        s.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            s.put(p + "input_layernorm.weight", new long[] {h});
            s.put(p + "self_attn.q_proj.weight", new long[] {qDim, h});
            s.put(p + "self_attn.k_proj.weight", new long[] {kvDim, h});
            s.put(p + "self_attn.v_proj.weight", new long[] {kvDim, h});
            if (c.attentionBias()) {
                s.put(p + "self_attn.q_proj.bias", new long[] {qDim});
                s.put(p + "self_attn.k_proj.bias", new long[] {kvDim});
                s.put(p + "self_attn.v_proj.bias", new long[] {kvDim});
            }
            s.put(p + "self_attn.o_proj.weight", new long[] {h, qDim});
            if (c.qkNorm()) {
                s.put(p + "self_attn.q_norm.weight", new long[] {c.headDim()});
                s.put(p + "self_attn.k_norm.weight", new long[] {c.headDim()});
            }
            s.put(p + "post_attention_layernorm.weight", new long[] {h});
            s.put(p + "mlp.gate_proj.weight", new long[] {c.intermediateSize(), h});
            s.put(p + "mlp.up_proj.weight", new long[] {c.intermediateSize(), h});
            s.put(p + "mlp.down_proj.weight", new long[] {h, c.intermediateSize()});
        }
        s.put("model.norm.weight", new long[] {h});
        if (!c.tieWordEmbeddings()) {
            s.put("lm_head.weight", new long[] {c.vocabSize(), h});
        }
        return s;
    }

    /** Builds a model from float tensors by name; every parameter must be present with its shape. */
    public static DecoderModel fromTensors(
            ModelConfig config, Map<String, SafeTensors.Tensor> tensors, Device device, Path source) {
        NDManager manager = NDManager.newBaseManager(device);
        try {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (Map.Entry<String, long[]> e : parameterShapes(config).entrySet()) {
                SafeTensors.Tensor t = tensors.get(e.getKey());
                if (t == null) {
                    throw new CheckpointException(source, "missing tensor '" + e.getKey() + "'");
                }
                if (!Arrays.equals(t.shape(), e.getValue())) {
                    throw new CheckpointException(
                            source,
                            "shape mismatch for '" + e.getKey() + "': expected " + Arrays.toString(e.getValue())
                                    + " from config.json, found " + Arrays.toString(t.shape()));
                }
                NDArray a = manager.create(t.data(), new Shape(t.shape()));
                a.setName(e.getKey());
                params.put(e.getKey(), a);
            }
            return new DecoderModel(config, manager, params);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * A fresh model of any shape: projections and embeddings ~ N(0, initializer_range²), norms 1,
     * biases 0, drawn in a fixed order from {@code seed}, so the same config and seed give the same
     * weights on every machine and device.
     */
    public static DecoderModel random(ModelConfig config, long seed, Device device) {
        Random rnd = new Random(seed);
        Map<String, SafeTensors.Tensor> tensors = new TreeMap<>();
        for (Map.Entry<String, long[]> e : new TreeMap<>(parameterShapes(config)).entrySet()) {
            long n = Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
            float[] data = new float[Math.toIntExact(n)];
            String name = e.getKey();
            if (name.endsWith("norm.weight")) {
                Arrays.fill(data, 1f);
            } else if (!name.endsWith(".bias")) {
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) (rnd.nextGaussian() * config.initializerRange());
                }
            }
            tensors.put(name, new SafeTensors.Tensor(e.getValue(), data, "F32"));
        }
        return fromTensors(config, tensors, device, Path.of("<random seed " + seed + ">"));
    }

    /** Loads model.safetensors, or the shards of model.safetensors.index.json, of a checkpoint folder. */
    public static DecoderModel load(Path dir, ModelConfig config, Device device) {
        MemoryBudget.require(dir, config);
        NDManager manager = NDManager.newBaseManager(device);
        try {
            return new DecoderModel(config, manager, MappedWeights.load(dir, parameterShapes(config), manager));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /**
     * A copy of the weights and the attached adapters, in memory of its own and outside autograd: a version
     * evaluated (or served) while this model trains on.
     */
    public DecoderModel snapshot() {
        NDManager copyManager = NDManager.newBaseManager(device());
        try {
            Map<String, NDArray> copy = new LinkedHashMap<>();
            params.forEach((name, a) -> {
                try (NDArray detached = a.stopGradient()) {
                    NDArray c = detached.duplicate();
                    c.attach(copyManager);
                    c.setName(name);
                    copy.put(name, c);
                }
            });
            DecoderModel s = new DecoderModel(config, copyManager, copy);
            if (adapters != null) {
                s.adapters = LoraAdapters.copyOf(config, adapters.settings(), adapters.parameters(), copyManager);
            }
            return s;
        } catch (RuntimeException e) {
            copyManager.close();
            throw e;
        }
    }

    /** A copy of every parameter as floats, by name (for checkpoints and the weights stream). */
    public Map<String, SafeTensors.Tensor> toTensors() {
        Map<String, SafeTensors.Tensor> out = new LinkedHashMap<>();
        params.forEach(
                (name, a) -> out.put(name, new SafeTensors.Tensor(a.getShape().getShape(), a.toFloatArray(), "F32")));
        return out;
    }

    /** Replaces parameter values in place (a hot weight swap); shapes must match. */
    public void setWeights(Map<String, SafeTensors.Tensor> tensors) {
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            SafeTensors.Tensor t = tensors.get(e.getKey());
            if (t == null || !Arrays.equals(t.shape(), e.getValue().getShape().getShape())) {
                throw new IllegalArgumentException(
                        "weights for '" + e.getKey() + "' are missing or have another shape");
            }
        }
        params.forEach((name, a) -> Tensors.assign(a, tensors.get(name).data()));
    }

    /**
     * Replaces parameter values in place from arrays staged in engine memory (a hot weight swap that never touches
     * the Java heap); every parameter must be there with its shape.
     */
    public void copyWeights(Map<String, NDArray> staged) {
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            NDArray s = staged.get(e.getKey());
            if (s == null || !s.getShape().equals(e.getValue().getShape())) {
                throw new IllegalArgumentException(
                        "weights for '" + e.getKey() + "' are missing or have another shape");
            }
        }
        params.forEach((name, a) -> a.set(new NDIndex("..."), staged.get(name)));
    }

    /** A KV cache for this model. */
    public KvCache newCache() {
        return new KvCache(manager, config.numLayers());
    }

    // ------------------------------------------------------------------ forward

    /**
     * Logits [batch, T, vocab] of {@code ids} [batch][T] at {@code positions} [batch][T].
     * {@code attend[b][t][s]} says whether query t may see key s, where keys are the cache's positions
     * followed by this call's (S = cache length + T). With a cache, this call's keys and values are
     * appended to it. All results belong to {@code scope}.
     */
    public NDArray forward(NDManager scope, int[][] ids, int[][] positions, boolean[][][] attend, KvCache cache) {
        return logits(scope, hidden(scope, ids, positions, attend, cache));
    }

    /** The final hidden states [batch, T, hidden] (after the last norm). */
    public NDArray hidden(NDManager scope, int[][] ids, int[][] positions, boolean[][][] attend, KvCache cache) {
        int batch = ids.length;
        int t = ids[0].length;
        int past = cache == null ? 0 : cache.length();
        int keys = past + t;
        NDArray x = owned(
                scope,
                params.get("model.embed_tokens.weight").get(Tensors.of(scope, flatten(ids), new Shape(batch, t))));
        NDArray[] rope = rope(scope, positions);
        NDArray mask = Tensors.of(scope, additiveMask(attend, batch, t, keys), new Shape(batch, 1, t, keys));
        for (int l = 0; l < config.numLayers(); l++) {
            if (cache == null) {
                x = layer(scope, l, x, rope, mask, null);
                continue;
            }
            // Decoding or prefilling (no backward pass follows): a layer's intermediates, attention scores above
            // all, are freed when the layer ends instead of when the forward does. Kept for the whole forward, a
            // 1 024-query prefill chunk over 2 048 keys of the Qwen3-0.6B shape held 28 layers of them: over 16 GB.
            // Results of an op belong to its first operand's manager, so the layer's input moves into its scope.
            try (NDManager layerScope = scope.newSubManager()) {
                x.attach(layerScope);
                x = layer(layerScope, l, x, rope, mask, cache);
                x.attach(scope);
            }
        }
        return rmsNorm(x, params.get("model.norm.weight"));
    }

    // ------------------------------------------------------------------ in pieces (long sequences)

    /** The token embeddings of one sequence, [1, n, hidden]: the input of layer 0. */
    public NDArray embed(NDManager scope, int[] ids) {
        return owned(
                scope,
                params.get("model.embed_tokens.weight")
                        .get(Tensors.of(scope, flatten(new int[][] {ids}), new Shape(1, ids.length))));
    }

    /** The rotary cos and sin of one sequence's positions, for {@link #layerRows}. */
    public NDArray[] rotary(NDManager scope, int[] positions) {
        return rope(scope, new int[][] {positions});
    }

    /**
     * Layer {@code l}'s output for query rows [from, to) of {@code x} [1, n, hidden], every row a key, under the
     * mask of a depth-first serialised prefix tree: row i sees row j iff j ≤ i < ends[j] (j is i or an ancestor; a
     * node's subtree is rows [j, ends[j])), {@code ends} [n] as int64. What {@link #hidden}'s layer computes for
     * those rows, with attention scores of [heads, to - from, to] instead of [heads, n, n], and a mask made on the
     * device from O(n) data: the piece of training on sequences whose whole attention does not fit.
     */
    public NDArray layerRows(NDManager scope, int l, NDArray x, NDArray[] rotary, NDArray ends, long from, long to) {
        return layerRows(scope, l, x, rotary, ends, from, to, null);
    }

    /**
     * Layer {@code l}'s keys and values for every row of {@code x} [1, n, hidden]: {k, v}, each [1, kv heads, n, head
     * dim], the keys rotated; intermediates belong to {@code scope}. A layer computed in pieces of rows computes them
     * once and hands them to {@link #layerRows(NDManager, int, NDArray, NDArray[], NDArray, long, long, NDArray[])}:
     * each piece computing its own would recompute rows [0, to) of both projections, 4.5× the work over 8 pieces.
     */
    public NDArray[] keysValues(NDManager scope, int l, NDArray x, NDArray[] rotary) {
        NDArray in = x.get(new NDIndex(":, :, :"));
        in.attach(scope); // a view owned by the scope: what is computed from it is freed with the scope
        String p = "model.layers." + l + ".";
        long t = x.getShape().get(1);
        NDArray h = rmsNorm(in, params.get(p + "input_layernorm.weight"));
        NDArray k = project(scope, h, p + "self_attn.k_proj").reshape(1, t, config.numKvHeads(), config.headDim());
        NDArray v = project(scope, h, p + "self_attn.v_proj").reshape(1, t, config.numKvHeads(), config.headDim());
        if (config.qkNorm()) {
            k = rmsNorm(k, params.get(p + "self_attn.k_norm.weight"));
        }
        return new NDArray[] {applyRope(k.transpose(0, 2, 1, 3), rotary), v.transpose(0, 2, 1, 3)};
    }

    /**
     * As {@link #layerRows(NDManager, int, NDArray, NDArray[], NDArray, long, long)}, with the layer's keys and values
     * of every row from {@link #keysValues} ({@code kv} null: computed here for rows [0, to)).
     */
    public NDArray layerRows(
            NDManager scope, int l, NDArray x, NDArray[] rotary, NDArray ends, long from, long to, NDArray[] kv) {
        // Row i sees only rows j ≤ i, so the piece needs the rows before `to` alone: keys, values and scores of
        // [heads, to - from, to], half of the whole width on average. The slice is a view of x owned by the scope
        // (results of an op belong to its first operand's manager, so every intermediate of this piece is freed with
        // the scope, not kept until x's manager closes); it shares x's storage and its place in the autograd graph.
        NDArray head = x.get(new NDIndex(":, 0:{}, :", to));
        head.attach(scope);
        NDArray[] rope = {
            rotary[0].get(new NDIndex(":, :, 0:{}, :", to)), rotary[1].get(new NDIndex(":, :, 0:{}, :", to))
        };
        for (NDArray a : rope) {
            a.attach(scope);
        }
        NDArray end = ends.get(new NDIndex("0:{}", to)).reshape(1, to);
        end.attach(scope);
        NDArray keys = scope.arange(0, to, 1, DataType.INT64).reshape(1, to);
        NDArray queries = scope.arange(from, to, 1, DataType.INT64).reshape(to - from, 1);
        NDArray visible = keys.lte(queries).logicalAnd(queries.lt(end));
        NDArray mask =
                visible.toType(DataType.FLOAT32, false).sub(1f).mul(-MASKED).reshape(1, 1, to - from, to);
        NDArray[] given = null;
        if (kv != null) {
            given = new NDArray[] {
                kv[0].get(new NDIndex(":, :, 0:{}, :", to)), kv[1].get(new NDIndex(":, :, 0:{}, :", to))
            };
            for (NDArray a : given) {
                a.attach(scope);
            }
        }
        return block(scope, l, head, from, to, rope, mask, null, given);
    }

    /** The final norm of the last layer's output: the hidden states the LM head reads. */
    public NDArray finalNorm(NDArray x) {
        return rmsNorm(x, params.get("model.norm.weight"));
    }

    /** Logits of hidden states: the LM head (the embedding matrix when tied). */
    public NDArray logits(NDManager scope, NDArray hidden) {
        NDArray head =
                config.tieWordEmbeddings() ? params.get("model.embed_tokens.weight") : params.get("lm_head.weight");
        return linear(scope, hidden, head, null);
    }

    /**
     * log p(targets[b][t] | everything ids[b][t] attends to), shaped [batch, T] — differentiable, for
     * training objectives (with masks and per-token weights applied by the caller) and for scoring.
     */
    public NDArray tokenLogProbs(
            NDManager scope, int[][] ids, int[][] positions, boolean[][][] attend, int[][] targets) {
        NDArray logProbs = forward(scope, ids, positions, attend, null).logSoftmax(-1);
        NDArray index = Tensors.of(scope, flatten(targets), new Shape(targets.length, targets[0].length, 1));
        return logProbs.gather(index, -1).squeeze(-1);
    }

    /**
     * The weighted negative log-likelihood Σ -w·log p over all positions of {@link #tokenLogProbs}'s
     * result: a weight of 0 is a loss mask (the token stays in context but gets no gradient), other
     * weights carry advantages or normalisations chosen by the objective.
     */
    public NDArray weightedNll(NDManager scope, NDArray tokenLogProbs, float[][] weights) {
        float[] flat = new float[weights.length * weights[0].length];
        for (int b = 0; b < weights.length; b++) {
            System.arraycopy(weights[b], 0, flat, b * weights[0].length, weights[b].length);
        }
        NDArray w = Tensors.of(scope, flat, tokenLogProbs.getShape());
        return tokenLogProbs.mul(w).sum().neg();
    }

    private NDArray layer(NDManager scope, int l, NDArray x, NDArray[] rope, NDArray mask, KvCache cache) {
        return block(scope, l, x, 0, x.getShape().get(1), rope, mask, cache, null);
    }

    /**
     * Layer {@code l} with rows [from, to) of {@code x} as queries and all of its rows as keys (every row when
     * from = 0 and to = T): the layer's output for those rows, [batch, to - from, hidden]. {@code kv}: the keys and
     * values of x's rows when already computed ({@link #keysValues}), else null.
     */
    private NDArray block(
            NDManager scope,
            int l,
            NDArray x,
            long from,
            long to,
            NDArray[] rope,
            NDArray mask,
            KvCache cache,
            NDArray[] kv) {
        String p = "model.layers." + l + ".";
        long batch = x.getShape().get(0);
        long t = x.getShape().get(1);
        long rows = to - from;
        boolean all = rows == t;
        int heads = config.numHeads();
        int kvHeads = config.numKvHeads();
        int d = config.headDim();

        NDArray norm = params.get(p + "input_layernorm.weight");
        NDArray h = kv != null ? null : rmsNorm(x, norm);
        NDArray hq = h == null
                ? rmsNorm(x.get(new NDIndex(":, {}:{}, :", from, to)), norm) // the norm is a row's own
                : all ? h : h.get(new NDIndex(":, {}:{}, :", from, to));
        NDArray q = project(scope, hq, p + "self_attn.q_proj").reshape(batch, rows, heads, d);
        if (config.qkNorm()) {
            q = rmsNorm(q, params.get(p + "self_attn.q_norm.weight"));
        }
        NDArray[] ropeQ = all
                ? rope
                : new NDArray[] {
                    rope[0].get(new NDIndex(":, :, {}:{}, :", from, to)),
                    rope[1].get(new NDIndex(":, :, {}:{}, :", from, to))
                };
        q = applyRope(q.transpose(0, 2, 1, 3), ropeQ);
        NDArray k;
        NDArray v;
        if (kv != null) {
            k = kv[0];
            v = kv[1];
        } else {
            k = project(scope, h, p + "self_attn.k_proj").reshape(batch, t, kvHeads, d);
            v = project(scope, h, p + "self_attn.v_proj").reshape(batch, t, kvHeads, d);
            if (config.qkNorm()) {
                k = rmsNorm(k, params.get(p + "self_attn.k_norm.weight"));
            }
            k = applyRope(k.transpose(0, 2, 1, 3), rope);
            v = v.transpose(0, 2, 1, 3);
        }
        if (!all) {
            x = x.get(new NDIndex(":, {}:{}, :", from, to)); // the residual stream of the query rows
        }
        if (cache != null) {
            NDArray[] cached = cache.append(scope, l, k, v);
            k = cached[0];
            v = cached[1];
        }
        // Grouped-query attention without copying keys and values: query heads i·g .. i·g+g-1 share kv head i (as
        // repeat_interleave), so q [B, H, rows, D] is read as [B, KV, g·rows, D] against k and v [B, KV, S, D].
        // Expanding k and v to H heads instead copied the whole cache in every layer at every decode step.
        int g = heads / kvHeads;
        long keys = k.getShape().get(2);
        NDArray scores = q.reshape(batch, kvHeads, g * rows, d)
                .matMul(owned(scope, k.transpose(0, 1, 3, 2)))
                .mul(Tensors.scalar(scope, (float) (1.0 / Math.sqrt(d))))
                .reshape(batch, kvHeads, g, rows, keys)
                .add(owned(scope, mask.expandDims(2))); // [B, 1, rows, S] -> [B, 1, 1, rows, S], freed with the layer
        NDArray attn = scores.softmax(-1)
                .reshape(batch, kvHeads, g * rows, keys)
                .matMul(v)
                .reshape(batch, heads, rows, d)
                .transpose(0, 2, 1, 3)
                .reshape(batch, rows, (long) heads * d);
        x = x.add(project(scope, attn, p + "self_attn.o_proj"));

        h = rmsNorm(x, params.get(p + "post_attention_layernorm.weight"));
        NDArray gate = project(scope, h, p + "mlp.gate_proj");
        NDArray up = project(scope, h, p + "mlp.up_proj");
        NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up); // silu(gate) ⊙ up
        return x.add(project(scope, act, p + "mlp.down_proj"));
    }

    /** A layer's projection {@code module} (e.g. model.layers.0.mlp.up_proj) of x: its weight, bias and adapter. */
    private NDArray project(NDManager scope, NDArray x, String module) {
        NDArray y = linear(scope, x, params.get(module + ".weight"), params.get(module + ".bias"));
        return adapters == null ? y : adapters.apply(scope, module, x, y);
    }

    /** x·Wᵀ (+b), with W in Hugging Face's [out, in] layout. */
    private static NDArray linear(NDManager scope, NDArray x, NDArray w, NDArray b) {
        NDArray y = x.matMul(owned(scope, w.transpose()));
        return b == null ? y : y.add(b);
    }

    /** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w. */
    private NDArray rmsNorm(NDArray x, NDArray w) {
        NDArray rms =
                x.square().mean(new int[] {-1}, true).add(config.rmsNormEps()).sqrt();
        return x.div(rms).mul(w);
    }

    /** cos and sin [batch, 1, T, headDim] for the positions, as Hugging Face's default RoPE. */
    private NDArray[] rope(NDManager scope, int[][] positions) {
        int d = config.headDim();
        int half = d / 2;
        float[] invFreq = new float[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = (float) (1.0 / Math.pow(config.ropeTheta(), (2.0 * i) / d));
        }
        int batch = positions.length;
        int t = positions[0].length;
        float[] cos = new float[batch * t * d];
        float[] sin = new float[batch * t * d];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < t; j++) {
                int base = (b * t + j) * d;
                for (int i = 0; i < half; i++) {
                    float angle = positions[b][j] * invFreq[i];
                    float c = (float) Math.cos(angle);
                    float s = (float) Math.sin(angle);
                    cos[base + i] = c;
                    cos[base + half + i] = c;
                    sin[base + i] = s;
                    sin[base + half + i] = s;
                }
            }
        }
        Shape shape = new Shape(batch, 1, t, d);
        return new NDArray[] {Tensors.of(scope, cos, shape), Tensors.of(scope, sin, shape)};
    }

    /** x·cos + rotate_half(x)·sin, rotate_half(x) = [-x₂, x₁]. */
    private NDArray applyRope(NDArray x, NDArray[] cosSin) {
        NDList halves = x.split(2, 3); // x is [batch, heads, T, headDim]
        NDArray x1 = halves.get(0);
        NDArray x2 = halves.get(1);
        NDArray rotated = x2.neg().concat(x1, 3);
        return x.mul(cosSin[0]).add(rotated.mul(cosSin[1]));
    }

    private static float[] additiveMask(boolean[][][] attend, int batch, int t, int keys) {
        float[] mask = new float[batch * t * keys];
        for (int b = 0; b < batch; b++) {
            if (attend[b].length != t) {
                throw new IllegalArgumentException(
                        "attention mask has " + attend[b].length + " query rows, expected " + t);
            }
            for (int q = 0; q < t; q++) {
                boolean[] row = attend[b][q];
                if (row.length != keys) {
                    throw new IllegalArgumentException(
                            "attention mask row has " + row.length + " keys, expected " + keys);
                }
                int base = (b * t + q) * keys;
                for (int s = 0; s < keys; s++) {
                    mask[base + s] = row[s] ? 0f : MASKED;
                }
            }
        }
        return mask;
    }

    private static long[] flatten(int[][] ids) {
        int t = ids[0].length;
        long[] flat = new long[ids.length * t];
        for (int b = 0; b < ids.length; b++) {
            if (ids[b].length != t) {
                throw new IllegalArgumentException(
                        "ragged batch: row " + b + " has " + ids[b].length + " ids, expected " + t);
            }
            for (int j = 0; j < t; j++) {
                flat[b * t + j] = ids[b][j];
            }
        }
        return flat;
    }

    /** Moves an array derived from a weight (which would belong to the weights' manager) to the scope. */
    private static NDArray owned(NDManager scope, NDArray a) {
        a.attach(scope);
        return a;
    }

    /** Causal attention over a single sequence of n new tokens after {@code past} cached ones. */
    public static boolean[][][] causal(int past, int n) {
        boolean[][] rows = new boolean[n][past + n];
        for (int q = 0; q < n; q++) {
            Arrays.fill(rows[q], 0, past + q + 1, true);
        }
        return new boolean[][][] {rows};
    }

    /** Positions past, past+1, ... for one sequence. */
    public static int[][] positions(int past, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = past + i;
        }
        return new int[][] {p};
    }

    @Override
    public void close() {
        manager.close();
    }

    /** The data type of the compute (float32 everywhere today). */
    public DataType dtype() {
        return DataType.FLOAT32;
    }
}
