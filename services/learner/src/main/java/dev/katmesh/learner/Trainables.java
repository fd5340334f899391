package dev.katmesh.learner;

import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.TrainingMethod;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * What a training run trains — the weights, or LoRA adapters on the weights of a full version — and the optimiser
 * over it. A stage's method switches it: fresh adapters are attached on the last full version, adapters are merged
 * back for full fine-tuning; either switch makes a new optimiser. A resumed checkpoint's optimiser state is restored
 * into the first optimiser made.
 */
final class Trainables {

    private static final Logger LOG = Logger.getLogger(Trainables.class);

    private final DecoderModel model;
    private final List<DecoderModel> replicas;
    private final double learningRate;
    private AdamW optimizer; // over the model's trainable parameters; made when a stage first trains them
    private Checkpoints.OptimizerState restore; // a resumed checkpoint's optimizer state, for that optimizer
    private Long baseVersion; // the full version the attached adapters apply to; null without adapters

    Trainables(List<DecoderModel> replicas, double learningRate, Checkpoints.OptimizerState restore, Long baseVersion) {
        this.model = replicas.get(0);
        this.replicas = replicas;
        this.learningRate = learningRate;
        this.restore = restore;
        this.baseVersion = baseVersion;
    }

    AdamW optimizer() {
        return optimizer;
    }

    /** The full version the attached adapters apply to; null without adapters. */
    Long baseVersion() {
        return baseVersion;
    }

    /** The next stage starts with a new optimiser, whatever the last one had (a stage branching from another). */
    void freshOptimizer() {
        optimizer = null;
        restore = null;
    }

    /**
     * Puts the replicas in {@code method}: fresh adapters on the weights of {@code lastVersion} (a full one, when none
     * are attached), the adapters merged into the weights for full fine-tuning, or as they are; and an optimizer over
     * what is trained (with a resumed checkpoint's state, when it is for that).
     */
    void trainBy(TrainingMethod method, long lastVersion) {
        boolean adapted = model.adapters().isPresent();
        if (method.isLora() && !adapted) {
            baseVersion = lastVersion;
            replicas.forEach(r -> r.parameters().values().forEach(p -> p.setRequiresGradient(false)));
            LoraAdapters fresh =
                    LoraAdapters.create(model.config(), method.lora(), 1000 + lastVersion, model.manager());
            for (DecoderModel r : replicas) {
                r.attachAdapters(
                        r == model
                                ? fresh
                                : LoraAdapters.copyOf(r.config(), method.lora(), fresh.parameters(), r.manager()));
            }
            optimizer = null;
            LOG.infof(
                    "training LoRA adapters %s (%d parameters) on version %d, its weights frozen",
                    method, fresh.size(), baseVersion);
        } else if (!method.isLora() && adapted) {
            for (DecoderModel r : replicas) {
                r.mergeAdapters().close();
            }
            baseVersion = null;
            optimizer = null;
            LOG.info("the adapters are merged into the weights: full fine-tuning from here");
        }
        if (optimizer == null) {
            optimizer = new AdamW(model.trainableParameters(), AdamW.Settings.defaults(learningRate));
            if (restore != null) {
                optimizer.restore(restore.step(), restore.tensors());
            }
        }
        restore = null;
    }
}
