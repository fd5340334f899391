package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The RL loop in one process: sample from the policy, score, train with group advantages; reward rises. */
class TrainerTest {

    /** Reward: the fraction of a completion's tokens that are in a target set (about 10% by chance). */
    static final Set<Integer> TARGET = Set.of(10, 11, 12, 13, 14, 15, 16, 17, 18, 19);

    @Test
    void policyGradientRaisesTheMeanRewardOfItsOwnSamples() {
        ModelConfig config = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
        try (DecoderModel model = DecoderModel.random(config, 3, Device.cpu())) {
            Trainer trainer = new Trainer(
                    model,
                    new AdamW(model.parameters(), AdamW.Settings.defaults(1e-2)),
                    Objective.dapo(),
                    AdvantageEstimator.GRPO,
                    null);
            double[] firstLast = rewardBeforeAndAfter(model, trainer, 60);
            assertTrue(
                    firstLast[1] > firstLast[0] + 0.3,
                    "mean reward should rise clearly: first 5 steps " + firstLast[0] + ", last 5 steps "
                            + firstLast[1]);
        }
    }

    /** Samples, scores and trains for {@code steps} steps; returns the mean reward of the first and last 5. */
    static double[] rewardBeforeAndAfter(DecoderModel model, Trainer trainer, int steps) {
        Generator generator = new Generator(model);
        int[] prompt = {5, 6, 7, 8};
        int groupSize = 8;
        double first = 0;
        double last = 0;
        for (int step = 0; step < steps; step++) {
            List<List<TrainingSample>> groups = new ArrayList<>();
            List<double[]> rewards = new ArrayList<>();
            double mean = 0;
            for (int g = 0; g < 2; g++) {
                List<int[]> prompts = new ArrayList<>();
                List<SamplingParams> params = new ArrayList<>();
                for (int i = 0; i < groupSize; i++) {
                    prompts.add(prompt);
                    params.add(new SamplingParams(8, 1f, 0, 1f, step * 1000L + g * 100 + i, Set.of()));
                }
                List<Generation> gens = generator.generate(prompts, params);
                List<TrainingSample> members = new ArrayList<>();
                double[] r = new double[groupSize];
                for (int i = 0; i < groupSize; i++) {
                    Generation gen = gens.get(i);
                    int n = prompt.length + gen.tokens().length;
                    int[] tokens = Arrays.copyOf(prompt, n);
                    System.arraycopy(gen.tokens(), 0, tokens, prompt.length, gen.tokens().length);
                    boolean[] trainable = new boolean[n];
                    float[] behaviour = new float[n];
                    Arrays.fill(behaviour, Float.NaN);
                    int hits = 0;
                    for (int t = 0; t < gen.tokens().length; t++) {
                        trainable[prompt.length + t] = true;
                        behaviour[prompt.length + t] = gen.logprobs()[t];
                        hits += TARGET.contains(gen.tokens()[t]) ? 1 : 0;
                    }
                    r[i] = gen.tokens().length == 0 ? 0 : (double) hits / gen.tokens().length;
                    mean += r[i] / (2 * groupSize);
                    members.add(new TrainingSample(tokens, trainable, behaviour, 0));
                }
                if (AdvantageEstimator.hasSignal(r)) {
                    groups.add(members);
                    rewards.add(r);
                }
            }
            if (step < 5) {
                first += mean / 5;
            }
            if (step >= steps - 5) {
                last += mean / 5;
            }
            if (!groups.isEmpty()) {
                trainer.step(groups, rewards);
            }
        }
        return new double[] {first, last};
    }

    @Test
    void dataParallelTrainingOnTwoReplicasEqualsOneDevice() {
        ModelConfig config = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
        List<List<TrainingSample>> groups = List.of(
                TreeTrainingTest.branchingSamples(1, 4),
                TreeTrainingTest.branchingSamples(2, 4),
                TreeTrainingTest.branchingSamples(3, 4));
        List<double[]> rewards =
                List.of(new double[] {1, 0, 0, 1}, new double[] {0, 1, 1, 1}, new double[] {0.5, 0, 1, 0});
        try (DecoderModel single = DecoderModel.random(config, 9, Device.cpu());
                DecoderModel primary = DecoderModel.random(config, 9, Device.cpu());
                DecoderModel replica = DecoderModel.random(config, 9, Device.cpu())) {
            Trainer one = new Trainer(
                    single,
                    new AdamW(single.parameters(), AdamW.Settings.defaults(1e-2)),
                    Objective.dapo(),
                    AdvantageEstimator.GRPO,
                    null);
            Trainer two = new Trainer(
                    List.of(primary, replica),
                    new AdamW(primary.parameters(), AdamW.Settings.defaults(1e-2)),
                    Objective.dapo(),
                    AdvantageEstimator.GRPO,
                    null,
                    1.0);
            for (int step = 0; step < 3; step++) {
                Trainer.StepResult a = one.step(groups, rewards);
                Trainer.StepResult b = two.step(groups, rewards);
                assertTrue(Math.abs(a.loss() - b.loss()) < 1e-5, "loss " + a.loss() + " vs " + b.loss());
            }
            for (String name : single.parameters().keySet()) {
                float[] expected = single.parameters().get(name).toFloatArray();
                assertTrue(
                        TreeTrainingTest.relativeError(
                                        expected, primary.parameters().get(name).toFloatArray(), 1e-3)
                                < 1e-4,
                        name + ": data-parallel weights equal single-device weights");
                assertTrue(
                        Arrays.equals(
                                primary.parameters().get(name).toFloatArray(),
                                replica.parameters().get(name).toFloatArray()),
                        name + ": the replica has the primary's weights after each step");
            }
        }
    }

    @Test
    void treesBoundedInSizeTrainExactlyLikeOneTreePerGroup() {
        ModelConfig config = ModelConfig.qwen3(97, 32, 64, 2, 4, 2, 8);
        List<List<TrainingSample>> groups =
                List.of(TreeTrainingTest.branchingSamples(4, 4), TreeTrainingTest.branchingSamples(5, 4));
        List<double[]> rewards = List.of(new double[] {1, 0, 0, 1}, new double[] {0, 1, 1, 0.5});
        int longest = groups.stream()
                .flatMap(List::stream)
                .mapToInt(t -> t.tokens().length)
                .max()
                .orElseThrow();
        try (DecoderModel whole = DecoderModel.random(config, 11, Device.cpu());
                DecoderModel split = DecoderModel.random(config, 11, Device.cpu())) {
            Trainer a = new Trainer(
                    whole,
                    new AdamW(whole.parameters(), AdamW.Settings.defaults(1e-2)),
                    Objective.dapo(),
                    AdvantageEstimator.GRPO,
                    null);
            // One sample per tree at most: every group is split, each tree back-propagated on its own.
            Trainer b = new Trainer(
                            split,
                            new AdamW(split.parameters(), AdamW.Settings.defaults(1e-2)),
                            Objective.dapo(),
                            AdvantageEstimator.GRPO,
                            null)
                    .maxTreeTokens(longest);
            for (int step = 0; step < 3; step++) {
                Trainer.StepResult x = a.step(groups, rewards);
                Trainer.StepResult y = b.step(groups, rewards);
                assertTrue(Math.abs(x.loss() - y.loss()) < 1e-5, "loss " + x.loss() + " vs " + y.loss());
                assertTrue(y.tokens() == x.tokens(), "the same loss terms");
            }
            for (String name : whole.parameters().keySet()) {
                assertTrue(
                        TreeTrainingTest.relativeError(
                                        whole.parameters().get(name).toFloatArray(),
                                        split.parameters().get(name).toFloatArray(),
                                        1e-3)
                                < 1e-4,
                        name + ": bounded trees give the same weights");
            }
        }
    }

    @Test
    void packKeepsEverySampleOnceAndTreesWithinTheBudget() {
        List<TrainingSample> samples = new ArrayList<>(TreeTrainingTest.branchingSamples(6, 6));
        samples.addAll(TreeTrainingTest.branchingSamples(7, 3));
        for (int budget : new int[] {1, 20, 40, 1000}) {
            List<int[]> trees = TreeBatch.pack(samples, budget);
            int[] all = trees.stream().flatMapToInt(Arrays::stream).sorted().toArray();
            assertTrue(
                    Arrays.equals(all, IntStream.range(0, samples.size()).toArray()),
                    "budget " + budget + ": every sample in exactly one tree");
            for (int[] tree : trees) {
                List<TrainingSample> members =
                        Arrays.stream(tree).mapToObj(samples::get).toList();
                int rows = TreeBatch.of(members).size();
                assertTrue(tree.length == 1 || rows <= budget, "budget " + budget + ": a tree of " + rows + " rows");
            }
        }
        assertTrue(
                TreeBatch.pack(samples, 1000).size()
                        < TreeBatch.pack(samples, 40).size(),
                "a larger budget makes fewer trees");
    }

    @Test
    void samplesSharingPrefixesStayInOneTreeBeyondTheBoundForUnrelatedOnes() {
        Random r = new Random(5);
        List<TrainingSample> session = branches(TreeTrainingTest.randomTokens(r, 40), 4, r); // one session's tree
        List<TrainingSample> other = branches(TreeTrainingTest.randomTokens(r, 40), 2, r); // another session
        List<TrainingSample> samples = new ArrayList<>(session);
        samples.addAll(other);
        int sessionRows = TreeBatch.of(session).size();
        int otherRows = TreeBatch.of(other).size();
        List<int[]> trees = TreeBatch.pack(samples, 48, sessionRows + otherRows);
        assertEquals(
                2, trees.size(), "one tree a session: the shared bound holds each, the small one keeps them apart");
        for (int[] tree : trees) {
            boolean first = tree[0] < session.size();
            for (int i : tree) {
                assertEquals(first, i < session.size(), "a tree holds one session's samples only");
            }
            assertEquals(first ? session.size() : other.size(), tree.length, "and all of them");
        }
        assertEquals(
                samples.size(),
                TreeBatch.pack(samples, 48, 48).size(),
                "with one bound for all, every 48-token sample is a tree of its own");
    }

    /** {@code n} samples: the history followed by 8 tokens of their own. */
    static List<TrainingSample> branches(int[] history, int n, Random r) {
        List<TrainingSample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] tokens = Arrays.copyOf(history, history.length + 8);
            System.arraycopy(TreeTrainingTest.randomTokens(r, 8), 0, tokens, history.length, 8);
            boolean[] trainable = new boolean[tokens.length];
            Arrays.fill(trainable, history.length, tokens.length, true);
            float[] behaviour = new float[tokens.length];
            Arrays.fill(behaviour, Float.NaN);
            out.add(new TrainingSample(tokens, trainable, behaviour, 0));
        }
        return out;
    }
}
