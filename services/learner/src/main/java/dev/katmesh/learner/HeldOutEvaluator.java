package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.Sandboxes;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.Episode;
import dev.katmesh.tasks.HeldOutEvaluation;
import dev.katmesh.tasks.TaskTests;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Evaluates a version's weights on the evaluation tasks, validation and held out ({@link HeldOutEvaluation}),
 * greedily: a copy of the weights taken when the version was published, on the evaluation thread beside training
 * ({@link VersionEvaluation}); evaluating every N versions bounds the CPU it takes from training.
 */
final class HeldOutEvaluator implements VersionEvaluation.Evaluator {

    private final HeldOutEvaluation evaluation;
    private final LearnerSettings.Eval settings;

    private HeldOutEvaluator(HeldOutEvaluation evaluation, LearnerSettings.Eval settings) {
        this.evaluation = evaluation;
        this.settings = settings;
    }

    /** The evaluator the settings ask for, or null without held-out tasks. */
    static HeldOutEvaluator of(LearnerSettings.Eval settings) throws IOException {
        if (settings.tasks().isEmpty()) {
            return null;
        }
        Sandbox sandbox = Sandboxes.fromEnvironment(System.getenv());
        List<Task> tasks = new ArrayList<>();
        for (String file : settings.tasks().get().split(",")) {
            if (!file.isBlank()) {
                tasks.addAll(HeldOutEvaluation.readTasks(Path.of(file.strip())));
            }
        }
        HeldOutEvaluation e = new HeldOutEvaluation(
                tasks,
                new AgentTools(sandbox, settings.bashTimeout()),
                new TaskTests(sandbox),
                new Episode.Budget(settings.maxNewTokens(), settings.maxContextTokens(), 0f, 1f),
                settings.timeout(),
                settings.maxTurns());
        return new HeldOutEvaluator(e, settings);
    }

    @Override
    public boolean due(long version, boolean stageEnd) {
        return version == 0 || stageEnd || version % Math.max(1, settings.every()) == 0;
    }

    @Override
    public int size() {
        return evaluation.size();
    }

    @Override
    public HeldOutEvaluation.Result evaluate(
            DecoderModel model, PolicyTokenizer tokenizer, ChatTemplate template, long version)
            throws IOException, InterruptedException {
        return evaluation.evaluate(new InProcessPolicy(model, tokenizer, template, version));
    }
}
