package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.demo.DemoPlan;
import dev.katmesh.launcher.demo.DemoSetup;
import dev.katmesh.launcher.demo.ModelFactory;
import dev.katmesh.policy.BpeTrainer;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.tasks.MidTermCorpus;
import dev.katmesh.tasks.PassRate;
import dev.katmesh.tasks.TaskSuite;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.LearningRateSchedule;
import dev.katmesh.training.Objective;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Does mid-term LM teach the model to copy an instruction's parameter into its code? The main job's honest runs
 * found it writes each family's procedure with a wrong parameter (docs/benchmarks.md#honest-splits-this-wave); this
 * bench isolates that skill: the main job's model and corpus, LM steps only, then greedy solutions for validation
 * tasks from the corpus's own prompt form ("# instruction\n# solution.py\n"), counted exact when they equal a
 * reference. Options try what could make copying learnable: digits as single tokens, and synthetic copy documents
 * ("# copy: w\nw") mixed into the batches.
 */
public final class CopyingBenchmark {

    /** The settings of one run. */
    public record Settings(
            int steps,
            int batch,
            double learningRate,
            double copyFraction,
            int maxDigitsPerToken,
            int tasks,
            int every,
            String family,
            long seed) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private CopyingBenchmark() {}

    public static ObjectNode run(Settings s, Consumer<String> log) throws Exception {
        DemoPlan plan = DemoPlan.standard();
        List<Task> suite = new TaskSuite(plan.seed(), plan.families())
                .generate(plan.tasks()).stream().map(TaskSuite.Generated::task).toList();
        List<Task> validation = suite.stream()
                .filter(t -> t.getSplit().equals(TaskSuite.VALIDATION))
                .filter(t ->
                        s.family() == null || s.family().equals(t.getTagsMap().get("template")))
                .limit(s.tasks())
                .toList();
        List<String> corpus = MidTermCorpus.documents(DemoSetup.corpusTasks(plan));
        Path dir = Files.createTempDirectory("katmesh-bench-copying");
        ModelFactory.tokenizer(
                BpeTrainer.train(corpus, plan.vocab(), ModelFactory.SPECIAL_TOKENS, s.maxDigitsPerToken()), dir);
        ModelConfig config = ModelFactory.config(dir, plan.shape());
        ObjectNode out = JSON.createObjectNode();
        ObjectNode settings = JSON.valueToTree(s);
        out.set("settings", settings);
        out.put("parameters", config.parameterCount());
        out.put("corpus_documents", corpus.size());
        out.put("validation_tasks", validation.size());
        ArrayNode points = out.putArray("points");
        try (PolicyTokenizer tokenizer = PolicyModel.tokenizer(dir);
                DecoderModel model = DecoderModel.random(config, s.seed(), PolicyModel.device("cpu"))) {
            List<TrainingSample> documents = samples(tokenizer, corpus);
            List<TrainingSample> copies = samples(tokenizer, copyDocuments(corpus, 20_000, s.seed()));
            Trainer trainer = new Trainer(
                    model,
                    new AdamW(model.parameters(), AdamW.Settings.defaults(s.learningRate())),
                    Objective.sft(),
                    null,
                    null);
            // The main job's supervised schedule (DemoPlan.supervisedSchedule): 10 warm-up steps, cosine to a tenth.
            LearningRateSchedule schedule = new LearningRateSchedule(LearningRateSchedule.Kind.COSINE, 10, 0.1);
            SplittableRandom r = new SplittableRandom(s.seed());
            long started = System.nanoTime();
            for (int step = 0; step < s.steps(); step++) {
                List<TrainingSample> batch = new ArrayList<>();
                for (int i = 0; i < s.batch(); i++) {
                    List<TrainingSample> from = r.nextDouble() < s.copyFraction() ? copies : documents;
                    batch.add(from.get(r.nextInt(from.size())));
                }
                Trainer.StepResult res = trainer.step(
                        List.of(batch), List.of(new double[batch.size()]), schedule.factor(step, s.steps()));
                if ((step + 1) % s.every() == 0 || step + 1 == s.steps()) {
                    ObjectNode p = evaluate(model, tokenizer, validation);
                    p.put("step", step + 1);
                    p.put("loss", res.loss());
                    p.put("wall_s", (System.nanoTime() - started) / 1e9);
                    points.add(p);
                    log.accept("bench copying: step " + (step + 1) + " " + p);
                }
            }
        }
        return out;
    }

    /** Greedy solutions from the corpus's prompt form: exact when equal to a reference (whitespace at the ends aside). */
    static ObjectNode evaluate(DecoderModel model, PolicyTokenizer tokenizer, List<Task> tasks) {
        Generator g = new Generator(model);
        int exact = 0;
        Map<String, int[]> byFamily = new TreeMap<>();
        ArrayNode samples = JSON.createArrayNode();
        for (Task t : tasks) {
            String prompt =
                    "# " + t.getInstruction() + "\n# " + t.getReferences(0).getPath() + "\n";
            Generation gen = g.generate(tokenizer.encode(prompt), SamplingParams.greedy(96));
            String text = tokenizer.decode(gen.tokens());
            int end = text.indexOf("<|endoftext|>");
            String code = (end >= 0 ? text.substring(0, end) : text).strip();
            boolean ok = t.getReferencesList().stream()
                    .anyMatch(ref -> ref.getContent().strip().equals(code));
            exact += ok ? 1 : 0;
            int[] f = byFamily.computeIfAbsent(t.getTagsMap().getOrDefault("template", "untagged"), k -> new int[2]);
            f[0] += ok ? 1 : 0;
            f[1]++;
            if (samples.size() < 3) {
                samples.addObject().put("instruction", t.getInstruction()).put("generated", code);
            }
        }
        ObjectNode p = JSON.createObjectNode();
        p.put("exact", exact).put("total", tasks.size());
        double[] ci = new PassRate(exact, tasks.size()).interval();
        p.putArray("exact_ci95").add(ci[0]).add(ci[1]);
        ObjectNode fam = p.putObject("by_family");
        byFamily.forEach((k, v) -> fam.put(k, v[0] + "/" + v[1]));
        p.set("samples", samples);
        return p;
    }

    private static List<TrainingSample> samples(PolicyTokenizer tokenizer, List<String> texts) {
        List<TrainingSample> out = new ArrayList<>();
        for (String text : texts) {
            int[] ids = tokenizer.encode(text + "<|endoftext|>");
            boolean[] trainable = new boolean[ids.length];
            Arrays.fill(trainable, true);
            float[] lp = new float[ids.length];
            Arrays.fill(lp, Float.NaN);
            out.add(new TrainingSample(ids, trainable, lp, 1));
        }
        return out;
    }

    /** "# copy: w\nw\n" for w a few words and numbers of the corpus: copying in its barest form. */
    static List<String> copyDocuments(List<String> corpus, int n, long seed) {
        String[] words = String.join(" ", corpus.subList(0, Math.min(2000, corpus.size())))
                .split("[^A-Za-z0-9']+");
        SplittableRandom r = new SplittableRandom(seed ^ 0x5EED);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            StringBuilder w = new StringBuilder();
            int k = 2 + r.nextInt(8);
            for (int j = 0; j < k; j++) {
                w.append(j == 0 ? "" : " ")
                        .append(
                                r.nextInt(3) == 0
                                        ? Integer.toString(r.nextInt(10_000) - 2_000)
                                        : words[r.nextInt(words.length)]);
            }
            out.add("# copy: " + w + "\n" + w + "\n");
        }
        return out;
    }
}
