package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.WorkspaceFile;
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
 * Everything the main job trains from, made on this machine: the task suite and the teacher's SFT
 * trajectories, a code corpus for mid-term training (the tasks' reference solutions and tests), a
 * tokenizer fitted to that data, a fresh model, and the curriculum file.
 */
final class DemoSetup {

    /** What was made. */
    record Prepared(Path dir, Path model, Path curriculum, Path heldout, List<Task> train, int heldoutCount, int sft,
                    int corpusDocuments, int vocab, long parameters) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoSetup() {}

    static Prepared prepare(DemoPlan plan, Path dir) throws Exception {
        Files.createDirectories(dir);
        TaskFiles.Written tasks = TaskFiles.write(dir, plan.seed(), plan.tasks(), plan.mistakes());
        List<Task> train = tasks.tasks().stream().map(TaskSuite.Generated::task).filter(t -> t.getSplit().equals("train")).toList();

        // Mid-term corpus: instructions with their code, and tests, as documents (no chat format: language
        // modelling), from tasks of another seed, so no held-out task is in it.
        List<String> corpus = new ArrayList<>();
        List<Task> corpusTasks = new TaskSuite(plan.seed() + 1_000_003L).generate(plan.corpusTasks()).stream()
                .map(TaskSuite.Generated::task).filter(t -> t.getSplit().equals("train")).toList();
        for (Task t : corpusTasks) {
            for (ReferenceSolution r : t.getReferencesList()) {
                corpus.add("# " + t.getInstruction() + "\n# " + r.getPath() + "\n" + r.getContent());
            }
            for (TestSuite s : t.getTestSuitesList()) {
                for (WorkspaceFile f : s.getFilesList()) {
                    corpus.add("# " + f.getPath() + "\n" + f.getContent().toStringUtf8());
                }
            }
        }
        try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("corpus.jsonl"), StandardCharsets.UTF_8)) {
            for (String doc : corpus) {
                w.write(JSON.writeValueAsString(Map.of("text", doc)) + "\n");
            }
        }

        // The tokenizer learns from what the model will read: the corpus and the SFT conversations as the
        // chat template renders them (held-out tasks stay out).
        Path tokenizer = dir.resolve("tokenizer");
        Files.createDirectories(tokenizer);
        String template;
        try (InputStream in = DemoSetup.class.getResourceAsStream("/model/chat_template.jinja")) {
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        ChatTemplate chat = new ChatTemplate(template, Map.of());
        List<String> texts = new ArrayList<>(corpus);
        for (String line : Files.readAllLines(dir.resolve("sft.jsonl"), StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                Trajectory t = TrajectoryJson.parse(line.getBytes(StandardCharsets.UTF_8)).trajectory();
                texts.add(chat.render(ChatMaps.messages(t.getMessagesList()), ChatMaps.tools(t.getToolsList()), false));
            }
        }
        int vocab = ModelFactory.tokenizer(texts, plan.vocab(), tokenizer);
        Path model = dir.resolve("model");
        long parameters = ModelFactory.init(tokenizer, plan.shape(), plan.seed(), model);

        Path curriculum = dir.resolve("curriculum.yaml");
        Files.writeString(curriculum, plan.curriculumYaml(), StandardCharsets.UTF_8);
        return new Prepared(dir, model, curriculum, dir.resolve("tasks-heldout.jsonl"), train, tasks.heldout(), tasks.sft(),
                corpus.size(), vocab, parameters);
    }
}
