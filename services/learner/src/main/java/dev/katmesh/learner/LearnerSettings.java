package dev.katmesh.learner;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The learner's settings (application.properties, prefix katmesh.learner). */
@ConfigMapping(prefix = "katmesh.learner")
public interface LearnerSettings {

    /** The initial policy: a Hugging Face checkpoint folder. Without it the learner only counts and drops. */
    Optional<String> modelDir();

    /** The curriculum file (YAML, see dev.katmesh.training.Curriculum); without it, one RFT stage on the scored topic. */
    Optional<String> curriculum();

    /** Where checkpoints are written (one folder per policy version). */
    String checkpointDir();

    /**
     * The credentials the Weights service accepts ({@code authorization: Bearer <token>}): inference's.
     * Without any, every caller may fetch weights (a warning says so at start).
     */
    Optional<List<String>> weightsTokens();

    /** DJL device: cpu, gpu or gpu:N. */
    @WithDefault("cpu")
    String device();

    /**
     * Devices for data-parallel training inside this process (e.g. gpu:0,gpu:1): one replica each, the
     * groups of a step dealt out to them. Default: just {@link #device()}.
     */
    Optional<List<String>> devices();

    /** Samples per group: a group trains when it has this many. */
    @WithDefault("4")
    int groupSize();

    /** A group still incomplete this long after its first sample trains with what it has. */
    @WithDefault("60s")
    Duration groupTimeout();

    /** η: trajectories from policies more than this many versions behind are dropped (0 = on-policy). */
    @WithDefault("2")
    long maxStaleness();

    /** Groups per optimiser step. */
    @WithDefault("2")
    int groupsPerStep();

    /** A new policy version (checkpoint, announcement, weights) every this many steps. */
    @WithDefault("4")
    int versionEvery();

    /** "GRPO", "DR_GRPO" or "RLOO". */
    @WithDefault("GRPO")
    String advantage();

    @WithDefault("1e-4")
    double learningRate();

    /**
     * What stages that name no method train: {@code full} (every weight), {@code lora} (adapters of
     * {@link #loraRank()} on every projection, the base frozen) or {@code auto}: LoRA for models above
     * {@link #loraAboveParameters()} parameters, whose full fine-tuning (20 bytes a parameter with AdamW in float32)
     * would not fit beside serving, full fine-tuning below.
     */
    @WithDefault("auto")
    String method();

    /** The adapters' rank where LoRA is the default (α = 2·rank). */
    @WithDefault("16")
    int loraRank();

    /** {@code auto}: the parameter count above which LoRA is the default. */
    @WithDefault("100000000")
    long loraAboveParameters();

    /** How token losses are summed: TOKEN_MEAN (DAPO), SEQUENCE_MEAN (GRPO) or CONSTANT (Dr. GRPO). */
    @WithDefault("TOKEN_MEAN")
    String lossAggregation();

    /** β of the KL penalty to the frozen initial policy in RL stages (0 = none, no reference kept). */
    @WithDefault("0")
    double klBeta();

    /**
     * The temperature rollouts sample at (katmesh.rollout.temperature): the behaviour log-probs are those
     * of log_softmax(logits / T), and the policy gradient scores tokens at the same T so the importance
     * ratio compares the same distributions.
     */
    @WithDefault("1.0")
    double samplingTemperature();

    /** PPO clip range below 1. */
    @WithDefault("0.2")
    double epsLow();

    /** PPO clip range above 1 (DAPO clip-higher). */
    @WithDefault("0.28")
    double epsHigh();

    /**
     * The most rows one prefix tree of unrelated samples may have: a group's trajectories (or an SFT batch)
     * are packed into trees up to this size, each back-propagated on its own. Attention between unrelated
     * samples is wasted work, quadratic in a tree's rows.
     */
    @WithDefault("4096")
    int maxTreeTokens();

    /**
     * The most rows one prefix tree of samples sharing prefixes may have (a captured session tree, a group on
     * one prompt): it is computed once, each shared token once, and in pieces when its whole attention would
     * exceed 8M scores a layer (memory then grows with rows × hidden × layers, not rows²).
     */
    @WithDefault("65536")
    int maxSharedTreeTokens();

    /** Checkpoints kept on disk (older ones are deleted). */
    @WithDefault("3")
    int keepCheckpoints();

    /** Default chunk size of the Weights stream, in bytes. */
    @WithDefault("1048576")
    int weightsChunkBytes();

    /** The held-out evaluation of published versions. */
    Eval eval();

    interface Eval {

        /**
         * Evaluation task files, comma-separated (one protobuf-JSON Task per line, as {@code ./katmesh tasks
         * generate} writes tasks-validation.jsonl and tasks-heldout.jsonl). Tasks of the {@code validation}
         * split are reported as validation figures, every other task as held out. Without it versions are
         * not evaluated.
         */
        Optional<String> tasks();

        /** Evaluate every this many versions; the initial version and each stage's last are always evaluated. */
        @WithDefault("1")
        int every();

        /** Tokens per agent turn. */
        @WithDefault("160")
        int maxNewTokens();

        /** The context an episode may grow to. */
        @WithDefault("2048")
        int maxContextTokens();

        /** Turns per episode (a task's own limit applies when lower): a model that never submits costs at most this. */
        @WithDefault("6")
        int maxTurns();

        /** The time one evaluation (all its episodes, which run together) may take. */
        @WithDefault("300s")
        Duration timeout();

        /** The time limit of one bash call in the sandbox. */
        @WithDefault("20s")
        Duration bashTimeout();
    }
}
