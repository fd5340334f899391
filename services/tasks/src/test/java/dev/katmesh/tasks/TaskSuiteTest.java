package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestCase;
import dev.katmesh.sandbox.BubblewrapSandbox;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class TaskSuiteTest {

    /** The main job's suites (DemoPlan: seed 1; default 1 200 tasks and a corpus of 3 000 more, quick 200 and 400). */
    static final long MAIN_JOB_SEED = 1;

    /** A main job's suite: its families (all when empty), its tasks, and the further tasks of its corpus (0: none). */
    record MainJob(List<String> families, int tasks, int corpusTasks) {
        TaskSuite suite() {
            return new TaskSuite(MAIN_JOB_SEED, families);
        }
    }

    /** As DemoPlan seeds them: the default (the pipelines), the default with --families all, and --quick. */
    static final List<MainJob> MAIN_JOBS = List.of(
            new MainJob(List.of("list-pipeline", "word-pipeline"), 1300, 0),
            new MainJob(List.of(), 1300, 0),
            new MainJob(List.of(), 200, 400));

    static Task visibleOnly(Task t) {
        return t.toBuilder()
                .clearTestSuites()
                .addAllTestSuites(TaskTests.visibleSuites(t))
                .build();
    }

    @Test
    void everyTaskPassesWithEachReferenceAndFailsWithTheWrongSolution() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
        TaskTests tests = new TaskTests(new BubblewrapSandbox());
        for (TaskSuite.Generated g :
                new TaskSuite(7).generate(2 * Templates.ALL.size())) { // two variants of each template
            Task t = g.task();
            String path = t.getTagsOrThrow("solution_path");
            assertTrue(t.getReferencesCount() >= 2, t.getTaskId() + " has several ground truths");
            for (ReferenceSolution ref : t.getReferencesList()) {
                var judged = tests.run(t, path, ref.getContent()).get(0);
                assertTrue(
                        judged.judged() && judged.passed() && judged.totalCases() == Templates.JUDGED_CASES,
                        t.getTaskId() + " " + ref.getId() + " must pass every judged case: " + judged);
                var visible = tests.run(visibleOnly(t), path, ref.getContent()).get(0);
                assertTrue(
                        visible.passed(),
                        t.getTaskId() + " " + ref.getId() + " must pass the visible tests: " + visible.run());
            }
            var wrong = tests.run(t, path, g.wrongSolution()).get(0);
            assertFalse(wrong.passed(), t.getTaskId() + " must refuse the wrong solution: " + wrong);
            assertFalse(
                    tests.run(visibleOnly(t), path, g.wrongSolution()).get(0).passed(),
                    t.getTaskId() + ": the visible tests too");
        }
    }

    @Test
    void theSuiteIsReproducibleUniqueByContentAndSplitInThree() {
        int n = 100 * Templates.ALL.size();
        List<TaskSuite.Generated> a = new TaskSuite(7).generate(n);
        List<TaskSuite.Generated> b = new TaskSuite(7).generate(n);
        assertEquals(
                a.stream().map(TaskSuite.Generated::task).toList(),
                b.stream().map(TaskSuite.Generated::task).toList(),
                "same seed, same tasks");
        Set<String> instructions = new HashSet<>();
        a.forEach(g -> instructions.add(TaskContent.normalise(g.task().getInstruction())));
        assertEquals(n, instructions.size(), "no two tasks share an instruction");
        Map<String, Set<String>> perFamily = new TreeMap<>();
        a.forEach(g -> perFamily
                .computeIfAbsent(g.task().getTagsOrThrow("template"), k -> new HashSet<>())
                .add(g.task().getInstruction()));
        perFamily.forEach((family, set) -> assertEquals(100, set.size(), family + " has an instruction per task"));
        Map<String, Integer> splits = new TreeMap<>();
        a.forEach(g -> splits.merge(g.task().getSplit(), 1, Integer::sum));
        assertEquals(Set.of(TaskSuite.TRAIN, TaskSuite.VALIDATION, TaskSuite.HELDOUT), splits.keySet());
        assertTrue(
                splits.get(TaskSuite.HELDOUT) > 35 && splits.get(TaskSuite.HELDOUT) < 90,
                "about one in ten is held out: " + splits);
        assertTrue(
                splits.get(TaskSuite.VALIDATION) > 35 && splits.get(TaskSuite.VALIDATION) < 90,
                "about one in ten is validation: " + splits);
        assertEquals(
                Set.of("python", "bash"),
                Set.copyOf(a.stream().map(g -> g.task().getLanguage()).toList()));
        assertEquals(
                a.subList(n - 50, n),
                new TaskSuite(7).generate(n - 50, n),
                "a later range is the same tasks as in the whole");
    }

    @Test
    void aSuiteOfSomeFamiliesTakesThemInTurnAndRefusesANameThatIsNoFamily() {
        List<String> pipelines = List.of("word-pipeline", "list-pipeline");
        List<TaskSuite.Generated> some = new TaskSuite(7, pipelines).generate(6);
        for (int i = 0; i < some.size(); i++) {
            assertEquals(pipelines.get(i % 2), some.get(i).task().getTagsOrThrow("template"), "task " + i + " in turn");
        }
        assertEquals("list-pipeline-00002", some.get(5).task().getTaskId());
        IllegalArgumentException e =
                assertThrows(IllegalArgumentException.class, () -> new TaskSuite(7, List.of("list-pipeline", "sort")));
        assertTrue(e.getMessage().contains("'sort'") && e.getMessage().contains("fizzbuzz"), e.getMessage());
        assertEquals(Templates.ALL.size(), TaskSuite.FAMILIES.size());
    }

    @Test
    void evaluationTasksShareNoContentWithTrainingTasksOrTheCorpusAsTheMainJobSeedsThem() {
        for (MainJob job : MAIN_JOBS) {
            TaskSuite suite = job.suite();
            List<Task> all = suite.generate(job.tasks()).stream()
                    .map(TaskSuite.Generated::task)
                    .toList();
            List<Task> evaluation = all.stream()
                    .filter(t -> !t.getSplit().equals(TaskSuite.TRAIN))
                    .toList();
            List<Task> train = all.stream()
                    .filter(t -> t.getSplit().equals(TaskSuite.TRAIN))
                    .toList();
            // The corpus: further tasks, or (corpusTasks 0) the training tasks' own references.
            List<Task> corpusTasks = job.corpusTasks() == 0
                    ? train
                    : suite.generate(job.tasks(), job.tasks() + job.corpusTasks()).stream()
                            .map(TaskSuite.Generated::task)
                            .toList();
            List<String> corpus = MidTermCorpus.documents(corpusTasks);
            ContentOverlap o = ContentOverlap.of(
                    evaluation,
                    List.of(
                            new ContentOverlap.Material("train", train, List.of()),
                            new ContentOverlap.Material("corpus", corpusTasks, corpus)));
            assertEquals(0, o.total(), job + ": " + o.summary());
            assertTrue(evaluation.size() > job.tasks() / 7, job + ": evaluation tasks: " + evaluation.size());
        }
    }

    /**
     * The teacher's mistakes are the training tasks' wrong solutions: none may be an evaluation task's reference (a
     * pipeline's wrong solution was once another combination, and 14 of them were).
     */
    @Test
    void noTrainingTasksWrongSolutionIsAnEvaluationTasksReference() {
        for (MainJob job : MAIN_JOBS) {
            List<TaskSuite.Generated> all = job.suite().generate(job.tasks());
            List<Task> evaluation = all.stream()
                    .map(TaskSuite.Generated::task)
                    .filter(t -> !t.getSplit().equals(TaskSuite.TRAIN))
                    .toList();
            List<String> wrong = all.stream()
                    .filter(g -> g.task().getSplit().equals(TaskSuite.TRAIN))
                    .map(TaskSuite.Generated::wrongSolution)
                    .toList();
            ContentOverlap o =
                    ContentOverlap.of(evaluation, List.of(new ContentOverlap.Material("mistakes", List.of(), wrong)));
            assertEquals(0, o.total(), job + ": " + o.summary());
        }
    }

    @Test
    void theTeachersTrajectoriesHoldNoEvaluationContent() throws Exception {
        assumeTrue(BubblewrapSandbox.available(), "bubblewrap is not installed (./katmesh test installs it)");
        List<TaskSuite.Generated> all =
                new TaskSuite(MAIN_JOB_SEED).generate(MAIN_JOBS.get(2).tasks());
        Teacher teacher = new Teacher(new BubblewrapSandbox());
        List<String> texts = new ArrayList<>();
        List<Task> evaluation = new ArrayList<>();
        int train = 0;
        for (TaskSuite.Generated g : all) {
            if (g.task().getSplit().equals(TaskSuite.TRAIN)) {
                texts.addAll(ContentOverlap.texts(teacher.teach(g, 0, train++ % 10 == 0)));
            } else {
                evaluation.add(g.task());
            }
        }
        ContentOverlap o =
                ContentOverlap.of(evaluation, List.of(new ContentOverlap.Material("teacher", List.of(), texts)));
        assertEquals(0, o.total(), o.summary());
        // and the check would see it: a held-out task taught by mistake is found
        texts.addAll(ContentOverlap.texts(teacher.teach(new TaskSuite.Generated(evaluation.get(0), ""), 0, false)));
        assertTrue(
                ContentOverlap.of(evaluation, List.of(new ContentOverlap.Material("teacher", List.of(), texts)))
                                .total()
                        >= 2,
                "an evaluation task in the teacher's data is counted (instruction and reference)");
    }

    /** grep-count's answers against an independent count, over every task the main jobs make (the sandbox run checks
     * two variants; a word inside the inputs' fixed text once slipped through to the main job's own check). */
    @Test
    void everyGrepCountAnswerIsTheNumberOfLinesHoldingTheWordInTheMainJobsSuites() {
        Pattern quoted = Pattern.compile("the word '([a-z]+)'");
        int checked = 0;
        for (MainJob job : MAIN_JOBS) {
            for (TaskSuite.Generated g : job.suite().generate(job.tasks() + job.corpusTasks())) {
                Task t = g.task();
                if (!t.getTagsOrThrow("template").equals("grep-count")) {
                    continue;
                }
                Matcher m = quoted.matcher(t.getInstruction());
                assertTrue(m.find(), t.getInstruction());
                String word = m.group(1);
                for (TestCase c : t.getTestSuites(1).getCasesList()) {
                    String input = c.getFiles(0).getContent().toStringUtf8();
                    long lines = input.lines().filter(l -> l.contains(word)).count();
                    assertEquals(
                            c.getExpected(), Long.toString(lines), t.getTaskId() + " '" + word + "' in:\n" + input);
                    checked++;
                }
            }
        }
        assertTrue(checked > 1000, "judged cases checked: " + checked);
    }
}
