package dev.katmesh.launcher.bench;

import ai.djl.Device;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.AdvantageEstimator;
import dev.katmesh.training.Objective;
import dev.katmesh.training.OffPolicyCorrection;
import dev.katmesh.training.PolicyMismatch;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Set;

/**
 * Asynchronous RL at a fixed staleness, with and without off-policy correction, side by side in one process.
 *
 * <p>The learner publishes a version every step; the behaviour policy that samples step s's groups is version
 * s - η (η = the staleness), as a rollout that runs η versions behind the learner. Optionally the behaviour's weights
 * are rounded to bfloat16, as an inference engine serving bf16 beside a float32 learner (the numerics mismatch).
 * The task is verifiable and small enough to learn in a few hundred steps on this CPU: the reward of a completion is
 * the share of its tokens in a fixed set of ten of the 97 (about 0.1 by chance). Each configuration starts from the
 * same random model and sees the same sampling seeds; the learner's own policy is evaluated every window on fixed
 * prompts (its reward curve), beside the step's mismatch between behaviour and learner.
 */
public final class OffPolicyBenchmark {

    static final ModelConfig MODEL = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
    static final Set<Integer> TARGET = Set.of(10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
    static final int[] PROMPT = {5, 6, 7, 8};
    static final int GROUP = 8;
    static final int GROUPS = 2;
    static final int NEW_TOKENS = 16;
    static final int EVAL_SAMPLES = 64;
    /** The learner's evaluated reward whose first window is reported (steps_to_reward_0_9). */
    static final double REACHED = 0.9;

    private OffPolicyBenchmark() {}

    /** A configuration's name and correction. */
    public record Arm(String name, OffPolicyCorrection correction) {}

    public static List<Arm> arms(double cap, double low, double high) {
        return List.of(
                new Arm("none", OffPolicyCorrection.NONE),
                new Arm("token_tis", OffPolicyCorrection.tokenTis(cap)),
                new Arm("sequence_mis", OffPolicyCorrection.sequenceMis(low, high)));
    }

    public static ObjectNode run(
            int[] stalenesses, List<Arm> arms, int steps, int window, double lr, long[] seeds, boolean bf16) {
        ObjectNode out = new ObjectMapper().createObjectNode();
        Measurements.putModel(out, MODEL, Device.cpu());
        out.put("steps", steps);
        out.put("window", window);
        out.put("learning_rate", lr);
        out.put("behaviour_weights", bf16 ? "bf16" : "f32");
        out.put("samples_per_step", GROUP * GROUPS);
        out.put("new_tokens", NEW_TOKENS);
        ArrayNode runs = out.putArray("runs");
        for (int eta : stalenesses) {
            for (Arm arm : arms) {
                for (long seed : seeds) {
                    long t0 = System.nanoTime();
                    ObjectNode r = runs.addObject();
                    r.put("staleness", eta);
                    r.put("correction", arm.name());
                    r.put("setting", arm.correction().toString());
                    r.put("seed", seed);
                    one(r, eta, arm.correction(), steps, window, lr, seed, bf16);
                    r.put("wall_s", Measurements.round((System.nanoTime() - t0) / 1e9));
                }
            }
        }
        return out;
    }

    private static void one(
            ObjectNode r,
            int eta,
            OffPolicyCorrection correction,
            int steps,
            int window,
            double lr,
            long seed,
            boolean bf16) {
        try (DecoderModel learner = DecoderModel.random(MODEL, seed, Device.cpu())) {
            Trainer trainer = new Trainer(
                    learner,
                    new AdamW(learner.parameters(), AdamW.Settings.defaults(lr)),
                    Objective.dapo().withCorrection(correction),
                    AdvantageEstimator.GRPO,
                    null);
            Deque<DecoderModel> versions = new ArrayDeque<>(); // the newest last; at most η + 1 kept
            versions.add(behaviourCopy(learner, bf16));
            ArrayNode curve = r.putArray("learner_reward");
            ArrayNode klCurve = r.putArray("token_kl");
            curve.add(Measurements.round(evaluate(learner, seed)));
            PolicyMismatch total = PolicyMismatch.EMPTY;
            PolicyMismatch windowed = PolicyMismatch.EMPTY;
            double behaviourReward = 0;
            for (int step = 0; step < steps; step++) {
                DecoderModel behaviour = versions.peekFirst(); // version max(0, step - η)
                List<List<TrainingSample>> groups = new ArrayList<>();
                List<double[]> rewards = new ArrayList<>();
                behaviourReward += sample(behaviour, seed * 1_000_003L + step, groups, rewards);
                Trainer.StepResult result = trainer.step(groups, rewards);
                total = total.plus(result.mismatch());
                windowed = windowed.plus(result.mismatch());
                versions.addLast(behaviourCopy(learner, bf16));
                while (versions.size() > eta + 1) {
                    versions.removeFirst().close();
                }
                if ((step + 1) % window == 0) {
                    curve.add(Measurements.round(evaluate(learner, seed)));
                    klCurve.add(Double.isNaN(windowed.tokenKl()) ? 0 : round6(windowed.tokenKl()));
                    windowed = PolicyMismatch.EMPTY;
                }
            }
            versions.forEach(DecoderModel::close);
            int n = curve.size();
            r.put("learner_reward_first", curve.get(0).asDouble());
            r.put(
                    "learner_reward_last",
                    Measurements.round(
                            (curve.get(n - 1).asDouble() + curve.get(n - 2).asDouble()) / 2));
            int reached = -1;
            for (int i = 0; i < n && reached < 0; i++) {
                reached = curve.get(i).asDouble() >= REACHED ? i * window : -1;
            }
            if (reached < 0) {
                r.putNull("steps_to_reward_0_9");
            } else {
                r.put("steps_to_reward_0_9", reached);
            }
            r.put("behaviour_reward_mean", Measurements.round(behaviourReward / steps));
            put(r, "token_kl_mean", total.tokenKl());
            put(r, "sequence_kl_mean", total.sequenceKl());
            put(r, "truncated_fraction", total.truncatedFraction());
            put(r, "masked_fraction", total.maskedFraction());
        }
    }

    /** A copy of the learner's weights as the behaviour policy serves them (rounded to bf16 when asked). */
    static DecoderModel behaviourCopy(DecoderModel learner, boolean bf16) {
        DecoderModel copy = learner.snapshot();
        if (bf16) {
            var tensors = copy.toTensors();
            tensors.replaceAll((name, t) -> new SafeTensors.Tensor(t.shape(), roundToBf16(t.data()), "F32"));
            copy.setWeights(tensors);
        }
        return copy;
    }

    /** Round-to-nearest-even to bfloat16's 8-bit significand, kept in float32. */
    static float[] roundToBf16(float[] xs) {
        float[] out = new float[xs.length];
        for (int i = 0; i < xs.length; i++) {
            int bits = Float.floatToRawIntBits(xs[i]);
            int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
            out[i] = Float.intBitsToFloat(rounded & 0xFFFF0000);
        }
        return out;
    }

    /** Samples a step's groups from {@code behaviour}; returns their mean reward. */
    private static double sample(
            DecoderModel behaviour, long seed, List<List<TrainingSample>> groups, List<double[]> rewards) {
        Generator generator = new Generator(behaviour);
        double mean = 0;
        for (int g = 0; g < GROUPS; g++) {
            List<int[]> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < GROUP; i++) {
                prompts.add(PROMPT);
                params.add(new SamplingParams(NEW_TOKENS, 1f, 0, 1f, seed * 64 + g * GROUP + i, Set.of()));
            }
            List<Generation> gens = generator.generate(prompts, params);
            List<TrainingSample> members = new ArrayList<>();
            double[] r = new double[GROUP];
            for (int i = 0; i < GROUP; i++) {
                Generation gen = gens.get(i);
                int n = PROMPT.length + gen.tokens().length;
                int[] tokens = Arrays.copyOf(PROMPT, n);
                System.arraycopy(gen.tokens(), 0, tokens, PROMPT.length, gen.tokens().length);
                boolean[] trainable = new boolean[n];
                float[] logprobs = new float[n];
                Arrays.fill(logprobs, Float.NaN);
                for (int t = 0; t < gen.tokens().length; t++) {
                    trainable[PROMPT.length + t] = true;
                    logprobs[PROMPT.length + t] = gen.logprobs()[t];
                }
                r[i] = reward(gen.tokens());
                mean += r[i] / (GROUP * GROUPS);
                members.add(new TrainingSample(tokens, trainable, logprobs, 0));
            }
            groups.add(members);
            rewards.add(r);
        }
        return mean;
    }

    /** The learner's own mean reward on {@link #EVAL_SAMPLES} completions with fixed seeds. */
    private static double evaluate(DecoderModel learner, long seed) {
        List<int[]> prompts = new ArrayList<>();
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < EVAL_SAMPLES; i++) {
            prompts.add(PROMPT);
            params.add(new SamplingParams(NEW_TOKENS, 1f, 0, 1f, 7_000_000L + seed * 1000 + i, Set.of()));
        }
        double sum = 0;
        for (Generation g : new Generator(learner).generate(prompts, params)) {
            sum += reward(g.tokens());
        }
        return sum / EVAL_SAMPLES;
    }

    static double reward(int[] tokens) {
        if (tokens.length == 0) {
            return 0;
        }
        int hits = 0;
        for (int t : tokens) {
            hits += TARGET.contains(t) ? 1 : 0;
        }
        return (double) hits / tokens.length;
    }

    private static double round6(double x) {
        return Math.round(x * 1e6) / 1e6;
    }

    /** A figure, or null where it is undefined (a correction that truncates or masks nothing has no fraction). */
    private static void put(ObjectNode o, String name, double x) {
        if (Double.isNaN(x)) {
            o.putNull(name);
        } else {
            o.put(name, round6(x));
        }
    }
}
