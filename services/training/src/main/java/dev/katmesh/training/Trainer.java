package dev.katmesh.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * One optimiser step over groups of samples: advantages within each group, prefix-tree batches of each
 * group's samples (at most {@link #maxTreeTokens} rows a tree), the objective's loss summed over the
 * trees (weights normalised over the whole step) with one backward pass per tree accumulating the
 * gradients, one AdamW update.
 *
 * <p>Data parallel: with several replicas (one per device), the groups of a step are dealt out to
 * them; each replica computes its trees' losses and gradients on its device; the replicas' gradients are added into the
 * first replica's, which the optimizer updates, and its new weights are copied back to the others.
 * The result equals training the same groups on one device.
 *
 * <p>What is trained is the model's {@link DecoderModel#trainableParameters()}: every weight, or only the LoRA
 * adapters attached to it (the optimizer must be made over the same map).
 */
public final class Trainer {

    /** What a step did. */
    public record StepResult(
            double loss,
            int tokens,
            int groups,
            int samples,
            double gradNorm,
            double clippedFraction,
            double meanAdvantageAbs,
            PolicyMismatch mismatch) {}

    private final DecoderModel model;
    private final List<DecoderModel> replicas;
    private final AdamW optimizer;
    private final Objective objective;
    private final AdvantageEstimator estimator;
    private final DecoderModel reference;
    private final double lrScale;
    private AdvantageShaping shaping = AdvantageShaping.NONE;
    private int maxTreeTokens = Integer.MAX_VALUE;
    private int maxSharedTreeTokens = Integer.MAX_VALUE;

    public Trainer(
            DecoderModel model,
            AdamW optimizer,
            Objective objective,
            AdvantageEstimator estimator,
            DecoderModel reference) {
        this(model, optimizer, objective, estimator, reference, 1.0);
    }

    /** @param lrScale the stage's learning rate relative to the optimizer's */
    public Trainer(
            DecoderModel model,
            AdamW optimizer,
            Objective objective,
            AdvantageEstimator estimator,
            DecoderModel reference,
            double lrScale) {
        this(List.of(model), optimizer, objective, estimator, reference, lrScale);
    }

    /**
     * @param replicas the model on each device; the first is the one {@code optimizer} updates, the
     *                 others start with the same weights
     */
    public Trainer(
            List<DecoderModel> replicas,
            AdamW optimizer,
            Objective objective,
            AdvantageEstimator estimator,
            DecoderModel reference,
            double lrScale) {
        this.lrScale = lrScale;
        this.replicas = List.copyOf(replicas);
        this.model = replicas.get(0);
        // Only what is trained carries gradients: with adapters attached, the base weights stay frozen leaves and
        // their gradients (a model's worth of memory) are never made.
        this.replicas.forEach(r -> r.trainableParameters().values().forEach(p -> p.setRequiresGradient(true)));
        this.optimizer = optimizer;
        this.objective = objective;
        this.estimator = estimator;
        this.reference = reference;
    }

    /**
     * Zeroes the gradients of what {@code models} train. DJL's {@code GradientCollector.zeroGradients} walks every array
     * of the process instead: it raced with the evaluation thread's arrays (one closed under it stopped the training
     * loop), and it left a gradient handle per array behind.
     */
    public static void zeroGradients(List<DecoderModel> models) {
        for (DecoderModel m : models) {
            for (NDArray p : m.trainableParameters().values()) {
                if (p.hasGradient()) {
                    try (NDArray g = p.getGradient()) {
                        g.subi(g); // in place, as DJL zeroes (a fill would leave a scalar array per call behind)
                    }
                }
            }
        }
    }

    /** Reshapes the policy gradient's advantages by each group's pass rate ({@link AdvantageShaping}). */
    public Trainer advantageShaping(AdvantageShaping s) {
        this.shaping = s;
        return this;
    }

    /** Bounds the rows of one prefix tree (memory is quadratic in them); by default a group is one tree. */
    public Trainer maxTreeTokens(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("maxTreeTokens must be >= 1");
        }
        this.maxTreeTokens = rows;
        return this;
    }

    /**
     * Bounds the rows of a tree of samples that share prefixes (by default as {@link #maxTreeTokens}): such a tree
     * is computed once whatever its length, in pieces when its attention would not fit.
     */
    public Trainer maxSharedTreeTokens(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("maxSharedTreeTokens must be >= 1");
        }
        this.maxSharedTreeTokens = rows;
        return this;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /**
     * Trains on groups of (sample, reward) — rewards are turned into advantages per group for the
     * policy-gradient objective; SFT ignores them.
     */
    public StepResult step(List<List<TrainingSample>> groups, List<double[]> rewards) {
        return step(groups, rewards, 1.0);
    }

    /** As {@link #step(List, List)} with the learning rate scaled by {@code lrFactor} (a schedule's factor). */
    public StepResult step(List<List<TrainingSample>> groups, List<double[]> rewards, double lrFactor) {
        return step(groups, rewards, lrFactor, 1);
    }

    /**
     * {@code updates} optimiser updates on the same groups (GRPO's μ). π_old, the anchor of an off-policy
     * correction, is the learner before the first update: the later updates reuse the first one's log-probs. The
     * result is the last update's, with the mismatch measured at the first (between the behaviour policy and π_old).
     */
    public StepResult step(List<List<TrainingSample>> groups, List<double[]> rewards, double lrFactor, int updates) {
        List<TrainingSample> all = new ArrayList<>();
        List<List<TrainingSample>> withAdvantages = new ArrayList<>();
        double advAbs = 0;
        boolean rl = objective.kind() == Objective.Kind.POLICY_GRADIENT;
        double[] scale = rl ? shaping.scales(rewards) : null;
        for (int g = 0; g < groups.size(); g++) {
            double[] adv = rl ? estimator.compute(rewards.get(g)) : null;
            for (int i = 0; adv != null && i < adv.length; i++) {
                adv[i] *= scale[g];
            }
            List<TrainingSample> members = new ArrayList<>();
            for (int i = 0; i < groups.get(g).size(); i++) {
                TrainingSample s = groups.get(g).get(i);
                TrainingSample t =
                        adv == null ? s : new TrainingSample(s.tokens(), s.trainable(), s.behaviourLogprobs(), adv[i]);
                advAbs += Math.abs(t.advantage());
                members.add(t);
            }
            withAdvantages.add(members);
            all.addAll(members);
        }
        // π_old is kept for later updates only where it is their anchor: a correction's, over several updates.
        Map<TrainingSample, float[]> proximal =
                updates > 1 && objective.correction().decoupled() ? new IdentityHashMap<>() : null;
        Update first = update(withAdvantages, all, lrFactor, proximal);
        Update last = first;
        for (int u = 1; u < updates; u++) {
            last = update(withAdvantages, all, lrFactor, proximal);
        }
        return new StepResult(
                last.loss,
                last.tokens,
                groups.size(),
                all.size(),
                last.norm,
                last.tokens == 0 ? 0 : last.clipped / last.tokens,
                all.isEmpty() ? 0 : advAbs / all.size(),
                first.mismatch);
    }

    private record Update(double loss, int tokens, double clipped, double norm, PolicyMismatch mismatch) {}

    /**
     * One optimiser update. {@code proximal} holds each sample's log π_old by token: empty at the first update,
     * which fills it from its own forward passes; null where no later update needs it (each takes its own forward's).
     */
    private Update update(
            List<List<TrainingSample>> withAdvantages,
            List<TrainingSample> all,
            double lrFactor,
            Map<TrainingSample, float[]> proximal) {
        boolean firstUpdate = proximal == null || proximal.isEmpty();
        double[][] weights = objective.aggregation().weights(all);
        double loss = 0;
        int tokens = 0;
        double clipped = 0;
        PolicyMismatch mismatch = PolicyMismatch.EMPTY;
        // Gradient accumulation: each tree's graph is built, back-propagated and freed before the next
        // (gradients add up in the parameters), so memory holds one group's activations, not the step's.
        // Weights are normalised over the whole step, so the sum equals one backward of the total.
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            zeroGradients(replicas);
            int offset = 0;
            int tree = 0;
            for (List<TrainingSample> group : withAdvantages) {
                for (int[] packed :
                        TreeBatch.pack(group, maxTreeTokens, Math.max(maxTreeTokens, maxSharedTreeTokens))) {
                    List<TrainingSample> members = new ArrayList<>();
                    double[][] groupWeights = new double[packed.length][];
                    for (int k = 0; k < packed.length; k++) {
                        members.add(group.get(packed[k]));
                        groupWeights[k] = weights[offset + packed[k]];
                    }
                    int r = tree++ % replicas.size();
                    TreeBatch batch = TreeBatch.of(members);
                    float[][] anchors = firstUpdate
                            ? null
                            : members.stream().map(proximal::get).toArray(float[][]::new);
                    try (NDManager scope = replicas.get(r).manager().newSubManager()) {
                        PolicyLoss.Result result = PolicyLoss.compute(
                                scope,
                                replicas.get(r),
                                batch,
                                members,
                                groupWeights,
                                objective,
                                reference,
                                PolicyLoss.ATTENTION_ELEMENTS,
                                PolicyLoss.LOGIT_ELEMENTS,
                                anchors);
                        result.backward(gc);
                        loss += result.loss().getFloat();
                        tokens += result.tokens();
                        clipped += result.clippedFraction() * result.tokens();
                        mismatch = mismatch.plus(result.mismatch());
                        if (firstUpdate && proximal != null) {
                            remember(batch, members, result.logProbs(), proximal);
                        }
                    }
                }
                offset += group.size();
            }
        }
        for (int r = 1; r < replicas.size(); r++) {
            for (var e : model.trainableParameters().entrySet()) {
                NDArray g =
                        replicas.get(r).trainableParameters().get(e.getKey()).getGradient();
                try (NDArray moved = g.toDevice(model.device(), true)) {
                    e.getValue().getGradient().addi(moved);
                }
            }
        }
        double norm = optimizer.update(lrScale * lrFactor);
        for (int r = 1; r < replicas.size(); r++) {
            for (var e : model.trainableParameters().entrySet()) {
                e.getValue().copyTo(replicas.get(r).trainableParameters().get(e.getKey()));
            }
        }
        return new Update(loss, tokens, clipped, norm, mismatch);
    }

    /** Keeps each member's log-probs by token index (NaN where it has no trained token). */
    private static void remember(
            TreeBatch batch, List<TrainingSample> members, float[] logProbs, Map<TrainingSample, float[]> proximal) {
        for (TrainingSample m : members) {
            float[] row = new float[m.tokens().length];
            Arrays.fill(row, Float.NaN);
            proximal.put(m, row);
        }
        List<TreeBatch.Occurrence> occ = batch.occurrences();
        for (int i = 0; i < logProbs.length; i++) {
            proximal.get(members.get(occ.get(i).sample()))[occ.get(i).tokenIndex()] = logProbs[i];
        }
    }
}
