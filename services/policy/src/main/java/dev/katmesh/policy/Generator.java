package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Autoregressive generation with a KV cache: one forward over the prompts (prefill), then one token
 * per step for every sequence of the batch. Prompts of different lengths are left-padded; pads are
 * masked out as keys and the real tokens get positions 0, 1, ... as if each prompt were alone.
 */
public final class Generator {

    private final DecoderModel model;
    private final Set<Integer> eos;

    public Generator(DecoderModel model) {
        this.model = model;
        this.eos = new HashSet<>(model.config().eosTokenIds());
    }

    /** Generates for one prompt. */
    public Generation generate(int[] prompt, SamplingParams params) {
        return generate(List.of(prompt), List.of(params)).get(0);
    }

    /** Generates for a batch of prompts, each with its own sampling parameters, in one decode loop. */
    public List<Generation> generate(List<int[]> prompts, List<SamplingParams> params) {
        int batch = prompts.size();
        if (batch == 0 || params.size() != batch) {
            throw new IllegalArgumentException("need one SamplingParams per prompt");
        }
        int width = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        if (width == 0) {
            throw new IllegalArgumentException("every prompt needs at least one token");
        }
        int maxNew =
                params.stream().mapToInt(SamplingParams::maxNewTokens).max().orElse(0);
        int[][] ids = new int[batch][width];
        int[][] positions = new int[batch][width];
        int[] next = new int[batch];
        List<boolean[]> validKeys = new ArrayList<>(); // per sequence, grows by one key per step
        for (int b = 0; b < batch; b++) {
            int[] p = prompts.get(b);
            if (p.length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty");
            }
            int pad = width - p.length;
            Arrays.fill(ids[b], 0, pad, model.config().padTokenId());
            System.arraycopy(p, 0, ids[b], pad, p.length);
            boolean[] valid = new boolean[width + maxNew];
            for (int j = 0; j < width; j++) {
                valid[j] = j >= pad;
                positions[b][j] = Math.max(0, j - pad);
            }
            validKeys.add(valid);
            next[b] = p.length; // position of the next token
        }
        Sampler[] samplers = new Sampler[batch];
        List<int[]> tokens = new ArrayList<>();
        List<float[]> logprobs = new ArrayList<>();
        String[] finish = new String[batch];
        for (int b = 0; b < batch; b++) {
            samplers[b] = new Sampler(params.get(b));
            tokens.add(new int[params.get(b).maxNewTokens()]);
            logprobs.add(new float[params.get(b).maxNewTokens()]);
            if (params.get(b).maxNewTokens() == 0) {
                finish[b] = "length";
            }
        }
        int[] produced = new int[batch];

        try (KvCache cache = model.newCache()) {
            cache.reserve(width + maxNew);
            boolean[][][] attend = new boolean[batch][width][];
            for (int b = 0; b < batch; b++) {
                for (int q = 0; q < width; q++) {
                    attend[b][q] = new boolean[width];
                    for (int s = 0; s <= q; s++) {
                        attend[b][q][s] = validKeys.get(b)[s];
                    }
                }
            }
            float[][] last = step(ids, positions, attend, cache, true);
            for (int stepNo = 0; stepNo < maxNew; stepNo++) {
                int[][] stepIds = new int[batch][1];
                int[][] stepPos = new int[batch][1];
                boolean any = false;
                int keys = width + stepNo + 1;
                boolean[][][] stepAttend = new boolean[batch][1][];
                for (int b = 0; b < batch; b++) {
                    if (finish[b] == null) {
                        Sampler.Sample s = samplers[b].next(last[b]);
                        tokens.get(b)[produced[b]] = s.token();
                        logprobs.get(b)[produced[b]] = s.logprob();
                        produced[b]++;
                        if (eos.contains(s.token())
                                || params.get(b).stopTokenIds().contains(s.token())) {
                            finish[b] = "stop";
                        } else if (produced[b] >= params.get(b).maxNewTokens()) {
                            finish[b] = "length";
                        }
                        stepIds[b][0] = s.token();
                        validKeys.get(b)[width + stepNo] = finish[b] == null;
                        any |= finish[b] == null;
                    } else {
                        stepIds[b][0] = model.config().padTokenId();
                        validKeys.get(b)[width + stepNo] = false;
                    }
                    stepPos[b][0] = next[b]++;
                    stepAttend[b][0] = Arrays.copyOf(validKeys.get(b), keys);
                    stepAttend[b][0][keys - 1] = true; // a query always sees itself (no empty rows)
                }
                if (!any) {
                    break;
                }
                last = step(stepIds, stepPos, stepAttend, cache, false);
            }
        }
        List<Generation> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            out.add(new Generation(
                    Arrays.copyOf(tokens.get(b), produced[b]),
                    Arrays.copyOf(logprobs.get(b), produced[b]),
                    finish[b] == null ? "length" : finish[b]));
        }
        return out;
    }

    /** One forward; returns the last position's logits per sequence. */
    private float[][] step(int[][] ids, int[][] positions, boolean[][][] attend, KvCache cache, boolean prefill) {
        return lastLogits(model, ids, positions, attend, cache, prefill);
    }

    /**
     * One forward of a batch (appending to {@code cache}); the logits of each row's last position
     * (prefill) or of its one new position (decode), as Java arrays for the samplers.
     */
    static float[][] lastLogits(
            DecoderModel model, int[][] ids, int[][] positions, boolean[][][] attend, KvCache cache, boolean prefill) {
        try (NDManager scope = model.manager().newSubManager()) {
            NDArray hidden = model.hidden(scope, ids, positions, attend, cache);
            NDArray lastHidden = prefill ? hidden.get(new NDIndex(":, -1:, :")) : hidden;
            float[] flat = model.logits(scope, lastHidden).toFloatArray();
            int vocab = model.config().vocabSize();
            float[][] rows = new float[ids.length][];
            for (int b = 0; b < ids.length; b++) {
                rows[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
            }
            return rows;
        }
    }
}
