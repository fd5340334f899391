package dev.katmesh.launcher.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.util.JsonFormat;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.ContentOverlap;
import dev.katmesh.tasks.MidTermCorpus;
import dev.katmesh.tasks.TaskSuite;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Everything the main job trains from, made on this machine: the task suite (train, validation and
 * held-out splits, disjoint by content) and the teacher's SFT trajectories, a code corpus for mid-term
 * training (reference solutions and visible tests of further tasks of the suite), a tokenizer fitted to
 * that data, a fresh model, the curriculum file, and the check that no evaluation task's content is in
 * any of the training data.
 */
public final class DemoSetup {

    /** What was made. */
    public record Prepared(
            Path dir,
            Path model,
            Path curriculum,
            Path validation,
            Path heldout,
            List<Task> train,
            int validationCount,
            int heldoutCount,
            int sft,
            int corpusDocuments,
            int vocab,
            long parameters,
            ContentOverlap overlap) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoSetup() {}

    /**
     * The mid-term corpus's tasks: the suite's tasks past the plan's first {@code tasks()}, or with {@code
     * corpusTasks() == 0} the suite's training tasks.
     */
    public static List<Task> corpusTasks(DemoPlan plan) {
        TaskSuite suite = new TaskSuite(plan.seed(), plan.families());
        if (plan.corpusTasks() == 0) {
            return suite.generate(plan.tasks()).stream()
                    .map(TaskSuite.Generated::task)
                    .filter(t -> t.getSplit().equals(TaskSuite.TRAIN))
                    .toList();
        }
        return suite.generate(plan.tasks(), plan.tasks() + plan.corpusTasks()).stream()
                .map(TaskSuite.Generated::task)
                .toList();
    }

    public static Prepared prepare(DemoPlan plan, Path dir) throws Exception {
        return prepare(plan, dir, null);
    }

    /**
     * As {@link #prepare(DemoPlan, Path)}, on {@code userModel} (a checkpoint folder with its tokenizer) when not null:
     * then no corpus tokenizer or fresh model is made, and the run trains that checkpoint (left as it is: the learner
     * writes its versions into the mesh's data directory).
     */
    public static Prepared prepare(DemoPlan plan, Path dir, Path userModel) throws Exception {
        Files.createDirectories(dir);
        TaskFiles.Written tasks = TaskFiles.write(dir, plan.seed(), plan.families(), plan.tasks(), plan.mistakes());
        List<Task> train = tasks.tasks().stream()
                .map(TaskSuite.Generated::task)
                .filter(t -> t.getSplit().equals(TaskSuite.TRAIN))
                .toList();

        // Mid-term corpus: training tasks, or the suite's tasks past the first plan.tasks() (unique by content against
        // all of them), so no validation or held-out task, input set or reference is in it; the overlap check below
        // says so on every run.
        List<Task> corpusTasks = corpusTasks(plan);
        List<String> corpus = MidTermCorpus.documents(corpusTasks);
        List<Task> evaluation = tasks.tasks().stream()
                .map(TaskSuite.Generated::task)
                .filter(t -> !t.getSplit().equals(TaskSuite.TRAIN))
                .toList();
        ContentOverlap overlap = ContentOverlap.of(
                evaluation,
                List.of(
                        new ContentOverlap.Material("train", train, List.of()),
                        new ContentOverlap.Material("teacher", List.of(), tasks.teacherTexts()),
                        new ContentOverlap.Material("corpus", corpusTasks, corpus)));
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("corpus.jsonl"), StandardCharsets.UTF_8)) {
            for (String doc : corpus) {
                w.write(JSON.writeValueAsString(Map.of("text", doc)) + "\n");
            }
        }

        Path model;
        int vocab;
        long parameters;
        if (userModel != null) {
            ModelConfig c = ModelConfig.read(userModel.resolve("config.json"));
            model = userModel;
            vocab = c.vocabSize();
            parameters = c.parameterCount();
        } else {
            // The tokenizer learns from what the model will read: the corpus and the SFT conversations as the
            // chat template renders them (held-out tasks stay out).
            Path tokenizer = dir.resolve("tokenizer");
            vocab = ModelFactory.tokenizer(trainingTexts(dir, corpus), plan.vocab(), tokenizer);
            model = dir.resolve("model");
            parameters = ModelFactory.init(tokenizer, plan.shape(), plan.seed(), model);
        }

        Path curriculum = dir.resolve("curriculum.yaml");
        Files.writeString(curriculum, plan.curriculumYaml(), StandardCharsets.UTF_8);
        int validation = evaluationFile(
                dir.resolve("eval-validation.jsonl"), evaluation, TaskSuite.VALIDATION, plan.evalTasks());
        int heldout =
                evaluationFile(dir.resolve("eval-heldout.jsonl"), evaluation, TaskSuite.HELDOUT, plan.evalTasks());
        return new Prepared(
                dir,
                model,
                curriculum,
                dir.resolve("eval-validation.jsonl"),
                dir.resolve("eval-heldout.jsonl"),
                train,
                validation,
                heldout,
                tasks.sft(),
                corpus.size(),
                vocab,
                parameters,
                overlap);
    }

    /** The corpus and the SFT conversations of {@code dir}/sft.jsonl as katmesh's chat template renders them. */
    private static List<String> trainingTexts(Path dir, List<String> corpus) throws Exception {
        String template;
        try (InputStream in = DemoSetup.class.getResourceAsStream("/model/chat_template.jinja")) {
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        ChatTemplate chat = new ChatTemplate(template, Map.of());
        List<String> texts = new ArrayList<>(corpus);
        for (String line : Files.readAllLines(dir.resolve("sft.jsonl"), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                Trajectory t = TrajectoryJson.parse(line.getBytes(StandardCharsets.UTF_8))
                        .trajectory();
                texts.add(chat.render(ChatMaps.messages(t.getMessagesList()), ChatMaps.tools(t.getToolsList()), false));
            }
        }
        return texts;
    }

    /** The first {@code cap} tasks of a split (all with cap 0), the learner's evaluation set; returns how many. */
    private static int evaluationFile(Path file, List<Task> evaluation, String split, int cap) throws IOException {
        List<Task> chosen = evaluation.stream()
                .filter(t -> t.getSplit().equals(split))
                .limit(cap > 0 ? cap : Long.MAX_VALUE)
                .toList();
        JsonFormat.Printer json = JsonFormat.printer().omittingInsignificantWhitespace();
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (Task t : chosen) {
                w.write(json.print(t) + "\n");
            }
        }
        return chosen.size();
    }
}
