package dev.katmesh.training;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.katmesh.policy.DecoderModel;
import java.util.ArrayList;
import java.util.List;

/**
 * One optimiser step over groups of samples: advantages within each group, one prefix-tree batch per
 * group, the objective's loss summed over the groups (weights normalised over the whole step), one
 * backward pass, one AdamW update.
 */
public final class Trainer {

    /** What a step did. */
    public record StepResult(double loss, int tokens, int groups, int samples, double gradNorm,
                             double clippedFraction, double meanAdvantageAbs) {}

    private final DecoderModel model;
    private final AdamW optimizer;
    private final Objective objective;
    private final AdvantageEstimator estimator;
    private final DecoderModel reference;
    private final double lrScale;

    public Trainer(DecoderModel model, AdamW optimizer, Objective objective, AdvantageEstimator estimator, DecoderModel reference) {
        this(model, optimizer, objective, estimator, reference, 1.0);
    }

    /** @param lrScale the stage's learning rate relative to the optimizer's */
    public Trainer(DecoderModel model, AdamW optimizer, Objective objective, AdvantageEstimator estimator, DecoderModel reference,
                   double lrScale) {
        this.lrScale = lrScale;
        this.model = model;
        this.optimizer = optimizer;
        this.objective = objective;
        this.estimator = estimator;
        this.reference = reference;
        model.parameters().values().forEach(p -> p.setRequiresGradient(true));
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /**
     * Trains on groups of (sample, reward) — rewards are turned into advantages per group for the
     * policy-gradient objective; SFT ignores them.
     */
    public StepResult step(List<List<TrainingSample>> groups, List<double[]> rewards) {
        List<TrainingSample> all = new ArrayList<>();
        List<List<TrainingSample>> withAdvantages = new ArrayList<>();
        double advAbs = 0;
        for (int g = 0; g < groups.size(); g++) {
            double[] adv = objective.kind() == Objective.Kind.POLICY_GRADIENT ? estimator.compute(rewards.get(g)) : null;
            List<TrainingSample> members = new ArrayList<>();
            for (int i = 0; i < groups.get(g).size(); i++) {
                TrainingSample s = groups.get(g).get(i);
                TrainingSample t = adv == null ? s : new TrainingSample(s.tokens(), s.trainable(), s.behaviourLogprobs(), adv[i]);
                advAbs += Math.abs(t.advantage());
                members.add(t);
            }
            withAdvantages.add(members);
            all.addAll(members);
        }
        double[][] weights = objective.aggregation().weights(all);
        double loss = 0;
        int tokens = 0;
        double clipped = 0;
        try (NDManager scope = model.manager().newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();
            NDArray total = null;
            int offset = 0;
            for (List<TrainingSample> members : withAdvantages) {
                double[][] groupWeights = new double[members.size()][];
                System.arraycopy(weights, offset, groupWeights, 0, members.size());
                PolicyLoss.Result r = PolicyLoss.compute(scope, model, TreeBatch.of(members), members, groupWeights, objective, reference);
                total = total == null ? r.loss() : total.add(r.loss());
                tokens += r.tokens();
                clipped += r.clippedFraction() * r.tokens();
                offset += members.size();
            }
            gc.backward(total);
            loss = total.getFloat();
        }
        double norm = optimizer.update(lrScale);
        return new StepResult(loss, tokens, groups.size(), all.size(), norm, tokens == 0 ? 0 : clipped / tokens,
                all.isEmpty() ? 0 : advAbs / all.size());
    }
}
