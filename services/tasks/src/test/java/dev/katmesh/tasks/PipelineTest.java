package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipelineTest {

    static final List<Pipeline.Domain> DOMAINS = List.of(PipelineFamilies.LIST, PipelineFamilies.WORD);

    @TempDir
    Path tmp;

    static List<Pipeline> every(Pipeline.Domain d) {
        List<Pipeline> out = new ArrayList<>();
        for (var p : d.positions()) {
            for (var f : d.filters()) {
                for (var m : d.maps()) {
                    for (var r : d.reducers()) {
                        out.add(new Pipeline(d, p, f, m, r));
                    }
                }
            }
        }
        return out;
    }

    @Test
    void everyCombinationIsItsOwnInstructionWithItsOwnReferences() {
        Set<String> instructions = new HashSet<>();
        Set<String> references = new HashSet<>();
        for (Pipeline.Domain d : DOMAINS) {
            List<Pipeline> all = every(d);
            assertEquals(756, all.size(), d.family());
            for (var p : all) {
                assertTrue(instructions.add(TaskContent.normalise(p.instruction())), "repeated: " + p.instruction());
                for (String ref : p.references()) {
                    assertTrue(references.add(TaskContent.normalise(ref)), "a reference of two pipelines: " + ref);
                }
            }
        }
    }

    /** Java's answers (the judged cases' expected values) against Python running every reference, in one process. */
    @Test
    void everyReferenceOfEveryCombinationComputesWhatTheCasesExpectAndTheWrongOneDoesNot() throws Exception {
        Random r = new Random(3);
        StringBuilder script = new StringBuilder("import json\nfailures = []\n");
        int checks = 0;
        for (Pipeline.Domain d : DOMAINS) {
            for (var p : every(d)) {
                var wrong = p.wrong();
                List<Templates.Case> cases = p.cases(r, wrong);
                assertNotEquals(p, wrong, p.instruction());
                List<String> solutions = new ArrayList<>(p.references());
                solutions.add(wrong.references().get(0));
                for (int k = 0; k < solutions.size(); k++) {
                    boolean isWrong = k == solutions.size() - 1;
                    script.append("ns = {}\nexec(")
                            .append(Py.lit(solutions.get(k)))
                            .append(", ns)\nok = True\n");
                    for (Templates.Case c : cases) {
                        script.append("ok = ok and json.dumps(ns['solve'](")
                                .append(Py.lit(c.args().get(0)))
                                .append(")) == json.dumps(json.loads(")
                                .append(Py.lit(Json.lit(c.expected())))
                                .append("))\n");
                        checks++;
                    }
                    script.append(isWrong ? "if ok:\n" : "if not ok:\n")
                            .append("    failures.append(")
                            .append(Py.lit((isWrong ? "the wrong solution passes: " : "a reference fails: ")
                                    + p.instruction()))
                            .append(")\n");
                }
            }
        }
        script.append("print(len(failures))\nprint('\\n'.join(failures[:5]))\n");
        Path file = tmp.resolve("check.py");
        Files.writeString(file, script);
        Process proc = new ProcessBuilder("python3", file.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(proc.waitFor(120, TimeUnit.SECONDS), "python3 did not finish");
        assertEquals(0, proc.exitValue(), out);
        assertEquals("0", out.lines().findFirst().orElse(""), checks + " checks, failures:\n" + out);
    }
}
