package dev.katmesh.launcher.demo;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * The scale of a main-job run: how many tasks, how big a model, how many steps per stage. The default's
 * wall time is in docs/benchmarks.md#the-main-job; {@link #quick()} takes about ten minutes (CI); flags
 * scale either up.
 *
 * @param families       the task families of the suite, taken in turn (all of them when empty)
 * @param tasks          tasks generated (about a tenth validation, a tenth held out, by content)
 * @param evalTasks      tasks of each evaluation split the learner evaluates every version on (the first of each)
 * @param mistakes       share of the teacher's SFT trajectories with a recoverable mistake
 * @param vocab          tokenizer vocabulary (trained on the run's own data)
 * @param shape          the decoder made for the run
 * @param corpusTasks    further tasks of the suite (past the first {@code tasks}, unique against them by content) for the
 *                       mid-term corpus; 0: the corpus is made of the training tasks themselves
 * @param midtermSteps   steps of mid-term LM on the generated code corpus (batch 32 short documents)
 * @param sftSteps       steps of SFT on the teacher's trajectories (batch 8)
 * @param rftSteps       steps of RFT (each {@code groupsPerStep} groups of {@code groupSize} rollouts)
 * @param adaptSteps     steps of error-masked SFT on captured deployed sessions
 * @param groupSize      rollouts per task in RFT
 * @param groupsPerStep  task groups (with reward variance) per RFT step; deployed sessions per adaptation step are
 *                       groupSize × groupsPerStep
 * @param sftVersionEvery a policy version (and an evaluation) every this many SFT steps
 * @param rftVersionEvery a policy version every this many RFT steps (each hot-swapped into inference)
 * @param learningRate   AdamW's rate for the supervised stages
 * @param rftLearningRate AdamW's rate in RFT
 * @param seed           of the tasks, the model and the sampling
 * @param episodes       an agent episode's size, in rollouts, evaluation and deployed sessions
 * @param sftBatch       trajectories per SFT step
 * @param stageBudget    RFT's and adaptation's budget of trajectories read (Curriculum's max_trajectories): a
 *                       policy that never yields a group with reward variance or a session worth learning from ends
 *                       them there; 0: no budget
 * @param rftArm         a second RFT arm to compare with GRPO's ({@link #RFT_ARMS}; null: none): stage {@code
 *                       rft-<arm>} runs first from the SFT checkpoint, then {@code rft} from that same checkpoint
 *                       ({@code from_stage: sft}), each with the same steps, rate and a fresh task sampler
 * @param treeBudgets    tree budgets to compare on the captured sessions (empty: none): the deployed agents sample
 *                       each answer twice (dead ends in every session's tree), and after adaptation a replay of its
 *                       sessions runs per budget ({@link #treeBudgetStage}), each from RFT's last version; 0 is the
 *                       arm without pruning
 * @param deployedSamples answers a deployed agent samples per turn (0: {@link #samplesPerTurn}'s default)
 */
public record DemoPlan(
        List<String> families,
        int tasks,
        int evalTasks,
        double mistakes,
        int vocab,
        ModelFactory.Shape shape,
        int corpusTasks,
        int midtermSteps,
        int sftSteps,
        int rftSteps,
        int adaptSteps,
        int groupSize,
        int groupsPerStep,
        int sftVersionEvery,
        int rftVersionEvery,
        double learningRate,
        double rftLearningRate,
        long seed,
        Episodes episodes,
        int sftBatch,
        long stageBudget,
        String rftArm,
        List<Integer> treeBudgets,
        int deployedSamples) {

    /** The RFT arms a run can compare with GRPO's, each a policy-gradient stage's extra keys. */
    public static final Map<String, String> RFT_ARMS = Map.of(
            "advantage-shaping",
            "advantage_shaping: {kind: pass_rate, threshold: 1.0, strength: 1.0}",
            "rollout-supervision",
            supervision(true));

    /**
     * Extra keys of GRPO's RFT when it runs beside an arm: beside supervision, the same rule in shadow mode, so that
     * what enforcing it would stop is measured on the episodes it did not stop.
     */
    static final Map<String, String> RFT_BASELINE = Map.of("rollout-supervision", supervision(false));

    /**
     * The supervision rule of the rollout-supervision arm, for the plan's 4-turn episodes (the teacher writes the file
     * at turn 1): chosen on the traces of an earlier run's training rollouts, where a turn-2 discrepancy of 0.1 or more
     * fell on 88 of 140 unsolved episodes and none of the 108 solved (benchmarks.md, "Supervision during rollouts").
     */
    static final double SUPERVISION_MAX_DISCREPANCY = 0.1;

    static final int SUPERVISION_PATIENCE = 1;
    static final int SUPERVISION_GRACE_TURNS = 1;

    private static String supervision(boolean enforce) {
        return String.format(
                Locale.ROOT,
                "rollout_supervision: {max_discrepancy: %s, patience: %d, grace_turns: %d, enforce: %s}",
                SUPERVISION_MAX_DISCREPANCY,
                SUPERVISION_PATIENCE,
                SUPERVISION_GRACE_TURNS,
                enforce);
    }

    /**
     * An agent episode's size.
     *
     * @param maxTurns        agent turns per rollout and evaluation episode (deployed agents get two more)
     * @param maxNewTokens    tokens per agent turn
     * @param evalTimeoutSeconds the time one evaluation of a version (all its episodes) may take
     */
    public record Episodes(int maxTurns, int maxNewTokens, int evalTimeoutSeconds) {
        /** Write, test, submit, and one to spare; 160 tokens a turn (a tool call with a short program). */
        static final Episodes STANDARD = new Episodes(4, 160, 300);
    }

    /**
     * A model this small derails at temperature 1 before SFT (every episode ran out of turns: no reward variance);
     * 0.7 keeps samples sensible and still varied. (After SFT, temperature 1 with 4 updates per batch at lr 1e-3
     * took the held-out pass rate from 32% to 0% in 4 RL steps in one default run: docs/demo.md.)
     */
    static final double ROLLOUT_TEMPERATURE = 0.7;

    /**
     * GRPO's own sequence mean, not the learner's default token mean: a failed episode here is one that rambled
     * until its turns ran out, several times the tokens of a success, so under a token mean the push away from
     * failures outweighed the pull towards successes (a default run at lr 1e-3 went from 31.7% to 16.7% held-out).
     */
    static final String RFT_LOSS_AGGREGATION = "SEQUENCE_MEAN";

    /** GRPO's μ in RFT: optimiser updates on each batch of groups (1: each sample is learnt from once). */
    static final int UPDATES_PER_BATCH = 1;

    /**
     * The supervised stages warm up, then anneal to a tenth of their rate: at a constant 3e-3 consecutive SFT
     * checkpoints differed by up to 10 held-out points (docs/benchmarks.md), so "the SFT checkpoint" RFT starts from
     * and is compared with was wherever the last batches left it. RFT and adaptation keep a constant rate.
     */
    static String supervisedSchedule(int steps) {
        // A stage of a few steps has no room to warm up: it would end before its rate had risen.
        return "{kind: cosine, warmup_steps: " + (steps >= 20 ? 10 : 0) + ", min_ratio: 0.1}";
    }

    /**
     * RFT task groups kept in flight by the driver (each {@code groupSize} episodes). Decoding is bound by the cost
     * per operation, not per sequence (docs/benchmarks.md: 16 sequences decode ~7x the tokens/s of one), so more
     * episodes at once is more RL samples per minute; half the groups have no reward variance and are skipped.
     */
    static final int OUTSTANDING_GROUPS = 4;

    /** Deployed agents working at once in the adaptation stage (sessions through the OpenAI-compatible API). */
    static final int DEPLOYED_AGENTS = 4;

    /**
     * The families a ~1M-parameter model learns as procedures on 2 cores: the pipelines, whose instances are unseen
     * combinations of named steps. The other six families need a literal copied from the instruction into the code,
     * and no plan taught that (0 of 36 validation tasks in each of four plans, docs/benchmarks.md); the validation
     * run of the corpus alone took list-pipeline from 0/20 to 13/20. {@code --families all} runs every family.
     */
    public static final List<String> LEARNABLE_FAMILIES = List.of("list-pipeline", "word-pipeline");

    public static DemoPlan standard() {
        // Two families of 756 step combinations each, 1 300 tasks (about 1 040 train, 130 validation, 130 held out):
        // the mid-term corpus is the training tasks' own references and the SFT data their teacher trajectories,
        // about 1.5 passes over each (300 x 32 documents, 200 x 8 trajectories), not the 6 and 2.5 passes after which
        // the last SFT had memorised its 973 trajectories (loss 0.07) and mixed their steps up on new ones. RL 10
        // steps at 3e-4; 40 tasks of each evaluation split.
        return new DemoPlan(
                LEARNABLE_FAMILIES,
                1300,
                40,
                0.1,
                2048,
                new ModelFactory.Shape(128, 352, 4, 4, 2, 32, 4096),
                0,
                300,
                200,
                10,
                3,
                4,
                2,
                200,
                10,
                3e-3,
                3e-4,
                1,
                Episodes.STANDARD,
                8,
                0,
                null,
                List.of(),
                0);
    }

    public static DemoPlan quick() {
        // A few minutes: one version per stage, each evaluated on every validation and held-out task of 200 (~35), the
        // SFT stage annealed over its 100 steps, and RL for 4 steps: every part runs; too small to judge learning.
        return new DemoPlan(
                List.of(),
                200,
                0,
                0.1,
                2048,
                new ModelFactory.Shape(128, 352, 4, 4, 2, 32, 4096),
                400,
                80,
                100,
                4,
                2,
                4,
                2,
                100,
                4,
                3e-3,
                3e-4,
                1,
                Episodes.STANDARD,
                8,
                0,
                null,
                List.of(),
                0);
    }

    /**
     * For a checkpoint of the user's ({@code demo --model}): no mid-term training (the model comes trained, with its
     * own tokenizer), then SFT on the teacher's trajectories, RFT and adaptation, each a few steps, LoRA at the
     * learner's default above 100M parameters. Sized for a 0.6B model on two cores (docs/benchmarks.md#the-main-job):
     * 4 validation and 4 held-out tasks, episodes of 2 turns of 48 tokens, and budgets that end RFT and adaptation
     * after 4 trajectories each (one RFT group) whether or not any taught something (a model that solves nothing yields
     * no group with reward variance). An agent's first prompt (system, tools, task) is about 900 tokens in Qwen3's
     * template, so prefill is most of the time.
     */
    public static DemoPlan forModel() {
        return new DemoPlan(
                LEARNABLE_FAMILIES,
                120,
                4,
                0.1,
                0,
                null,
                0,
                0,
                2,
                1,
                1,
                4,
                1,
                2,
                1,
                1e-4,
                1e-5,
                1,
                new Episodes(2, 48, 3600),
                1,
                4,
                null,
                List.of(),
                0);
    }

    /** This plan with the command line's choices (null: this plan's own). */
    public DemoPlan with(
            Integer sft, Integer rft, Integer tasksCount, Long seedValue, List<String> familyNames, String arm) {
        return with(sft, rft, tasksCount, seedValue, familyNames, arm, null);
    }

    /** As {@link #with(Integer, Integer, Integer, Long, List, String)}, with the tree budgets to compare (null: none). */
    public DemoPlan with(
            Integer sft,
            Integer rft,
            Integer tasksCount,
            Long seedValue,
            List<String> familyNames,
            String arm,
            List<Integer> budgets) {
        if (arm != null && !RFT_ARMS.containsKey(arm)) {
            throw new IllegalArgumentException("--rft-arm " + arm + ": one of " + new TreeSet<>(RFT_ARMS.keySet()));
        }
        if (budgets != null
                && (budgets.stream().anyMatch(b -> b < 0)
                        || budgets.stream().distinct().count() < budgets.size())) {
            throw new IllegalArgumentException("--tree-budgets " + budgets + ": distinct token counts, 0 for none");
        }
        return new DemoPlan(
                familyNames == null ? families : familyNames,
                tasksCount == null ? tasks : tasksCount,
                evalTasks,
                mistakes,
                vocab,
                shape,
                corpusTasks,
                midtermSteps,
                sft == null ? sftSteps : sft,
                rft == null ? rftSteps : rft,
                adaptSteps,
                groupSize,
                groupsPerStep,
                sftVersionEvery,
                rftVersionEvery,
                learningRate,
                rftLearningRate,
                seedValue == null ? seed : seedValue,
                episodes,
                sftBatch,
                stageBudget,
                arm == null ? rftArm : arm,
                budgets == null ? treeBudgets : List.copyOf(budgets),
                deployedSamples);
    }

    /** The curriculum file of the run (paths relative to it). */
    String curriculumYaml() {
        String arm = rftArm == null ? "" : rftStage("rft-" + rftArm, "\n    " + RFT_ARMS.get(rftArm));
        String rft = rftStage(
                "rft",
                rftArm == null
                        ? ""
                        : "\n    from_stage: sft"
                                + (RFT_BASELINE.containsKey(rftArm) ? "\n    " + RFT_BASELINE.get(rftArm) : ""));
        StringBuilder budgets = new StringBuilder();
        for (int b : treeBudgets) {
            budgets.append(String.format(
                    Locale.ROOT,
                    """
                  - name: %s
                    objective: error_masked_sft
                    from_stage: rft
                    sources: [{replay: {source: deployed, min_reward: 0.5}}]
                    batch: 1
                    learning_rate: %s
                    version_every: 1000000%s
                """,
                    treeBudgetStage(b),
                    rftLearningRate / adaptBatch(),
                    b > 0 ? "\n    tree_budget: " + b : ""));
        }
        return supervisedYaml()
                + arm
                + rft
                + String.format(
                        Locale.ROOT,
                        """
                  - name: adapt
                    objective: error_masked_sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    min_reward: 0.5
                    batch_wait_ms: %d
                    steps: %d
                    learning_rate: %s
                    version_every: %d%s
                """,
                        ADAPT_BATCH_WAIT_MS,
                        adaptStageSteps(),
                        rftLearningRate / adaptBatch(),
                        Math.max(1, adaptStageSteps()),
                        budgetYaml())
                + budgets;
    }

    /** The stage that replays adaptation's sessions under tree budget {@code b} (0: unpruned). */
    public static String treeBudgetStage(int b) {
        return TREE_BUDGET_STAGE + (b > 0 ? Integer.toString(b) : "none");
    }

    /** Whether a stage is one of the tree-budget replays (compared among themselves, not part of the main line). */
    public static boolean isTreeBudgetStage(String stage) {
        return stage.startsWith(TREE_BUDGET_STAGE);
    }

    private static final String TREE_BUDGET_STAGE = "adapt-tree-";

    /** Answers a deployed agent samples per turn: two where tree budgets are compared (dead ends to prune), else one. */
    int samplesPerTurn() {
        return deployedSamples > 0 ? deployedSamples : treeBudgets.isEmpty() ? 1 : 2;
    }

    /** This plan with deployed agents sampling {@code n} answers a turn (null: as it was). */
    public DemoPlan withSamplesPerTurn(Integer n) {
        if (n == null) {
            return this;
        }
        if (n < 1) {
            throw new IllegalArgumentException("--samples-per-turn must be at least 1, got " + n);
        }
        return new DemoPlan(
                families,
                tasks,
                evalTasks,
                mistakes,
                vocab,
                shape,
                corpusTasks,
                midtermSteps,
                sftSteps,
                rftSteps,
                adaptSteps,
                groupSize,
                groupsPerStep,
                sftVersionEvery,
                rftVersionEvery,
                learningRate,
                rftLearningRate,
                seed,
                episodes,
                sftBatch,
                stageBudget,
                rftArm,
                treeBudgets,
                n);
    }

    /** An RFT stage (GRPO as the plan sets it) with {@code extra} keys. */
    private String rftStage(String name, String extra) {
        return String.format(
                Locale.ROOT,
                """
                  - name: %s
                    objective: policy_gradient
                    sources: [{topic: katmesh.trajectories.scored, source: rollout}]
                    taskless: exclude
                    steps: %d
                    learning_rate: %s
                    version_every: %d
                    updates_per_batch: %d%s%s
                """,
                name,
                rftSteps,
                rftLearningRate,
                rftVersionEvery,
                UPDATES_PER_BATCH,
                budgetYaml(),
                extra);
    }

    /** Whether a stage of this curriculum is an RFT stage (the driver supplies it tasks). */
    public static boolean isRft(String stage) {
        return stage.equals("rft") || stage.startsWith("rft-");
    }

    /**
     * A deployed session trains within about one step and a second of its arrival: a batch trains with what it has
     * after this wait instead of waiting for {@link #adaptBatch} sessions (the learner's group-timeout).
     */
    static final int ADAPT_BATCH_WAIT_MS = 200;

    /** Sessions an adaptation step trains at most. */
    int adaptBatch() {
        return groupSize * groupsPerStep;
    }

    /**
     * Adaptation's steps: as many as it takes to train {@code adaptSteps} full batches one session at a time, at the
     * learning rate divided by the batch, so the stage's sum of learning rates (Adam's update budget) is what
     * {@code adaptSteps} full steps had.
     */
    int adaptStageSteps() {
        return adaptSteps * adaptBatch();
    }

    private String budgetYaml() {
        return stageBudget > 0 ? "\n    max_trajectories: " + stageBudget : "";
    }

    /** The supervised half of the curriculum (mid-term LM unless it has no steps, then SFT): what RFT starts from. */
    public String supervisedYaml() {
        String midterm = midtermSteps <= 0
                ? ""
                : String.format(
                        Locale.ROOT, """
                  - name: midterm
                    objective: lm
                    sources: [{file: corpus.jsonl}]
                    steps: %d
                    batch: 32
                    learning_rate: %s
                    lr_schedule: %s
                    version_every: %d
                """, midtermSteps, learningRate, supervisedSchedule(midtermSteps), midtermSteps);
        return "# Written by ./katmesh: the KAT-Coder curriculum on the built-in task suite.\nstages:\n"
                + midterm
                + String.format(
                        Locale.ROOT,
                        """
                  - name: sft
                    objective: sft
                    sources: [{file: sft.jsonl}]
                    balance_by: [language]
                    steps: %d
                    batch: %d
                    learning_rate: %s
                    lr_schedule: %s
                    version_every: %d
                """,
                        sftSteps,
                        sftBatch,
                        learningRate,
                        supervisedSchedule(sftSteps),
                        sftVersionEvery);
    }

    /**
     * RFT task groups the driver keeps in flight: {@link #OUTSTANDING_GROUPS}, or no more than a budget can read (the
     * rest would be generated and never trained: on a 0.6B model each group is minutes of prefill).
     */
    public int outstandingGroups() {
        return stageBudget > 0
                ? (int) Math.max(1, Math.min(OUTSTANDING_GROUPS, stageBudget / groupSize))
                : OUTSTANDING_GROUPS;
    }

    /** The settings each service gets for the run (system properties). */
    public Map<String, Map<String, String>> serviceSettings(String curriculum, String evaluationTasks) {
        Map<String, String> learner = new LinkedHashMap<>();
        learner.put("katmesh.learner.curriculum", curriculum);
        learner.put("katmesh.learner.eval.tasks", evaluationTasks); // validation and held-out files, comma-separated
        learner.put("katmesh.learner.learning-rate", Double.toString(learningRate));
        learner.put("katmesh.learner.group-size", Integer.toString(groupSize));
        learner.put("katmesh.learner.groups-per-step", Integer.toString(groupsPerStep));
        learner.put("katmesh.learner.group-timeout", "30s");
        learner.put("katmesh.learner.max-staleness", "2");
        learner.put("katmesh.learner.max-tree-tokens", "2048");
        learner.put("katmesh.learner.keep-checkpoints", "2");
        learner.put("katmesh.learner.sampling-temperature", Double.toString(ROLLOUT_TEMPERATURE));
        learner.put("katmesh.learner.loss-aggregation", RFT_LOSS_AGGREGATION);
        // Write, test, submit: a model that solves a task needs three turns; an untrained one would spend every turn it
        // gets.
        learner.put("katmesh.learner.eval.max-turns", Integer.toString(episodes.maxTurns()));
        learner.put("katmesh.learner.eval.max-new-tokens", Integer.toString(episodes.maxNewTokens()));
        learner.put("katmesh.learner.eval.timeout", episodes.evalTimeoutSeconds() + "s");
        Map<String, String> rollout = new LinkedHashMap<>();
        rollout.put("katmesh.rollout.group-size", Integer.toString(groupSize));
        rollout.put("katmesh.rollout.max-turns", Integer.toString(episodes.maxTurns()));
        rollout.put("katmesh.rollout.max-new-tokens", Integer.toString(episodes.maxNewTokens()));
        rollout.put("katmesh.rollout.max-context-tokens", "2048");
        rollout.put("katmesh.rollout.temperature", Double.toString(ROLLOUT_TEMPERATURE));
        rollout.put("katmesh.rollout.concurrency.initial", Integer.toString(outstandingGroups() * groupSize));
        rollout.put("katmesh.rollout.concurrency.max", Integer.toString(outstandingGroups() * groupSize));
        return Map.of("learner", learner, "rollout", rollout);
    }
}
