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

class ListPipelineTest {

    @TempDir
    Path tmp;

    static List<ListPipeline.Pipeline> every() {
        List<ListPipeline.Pipeline> out = new ArrayList<>();
        for (var p : ListPipeline.POSITIONS) {
            for (var f : ListPipeline.FILTERS) {
                for (var m : ListPipeline.MAPS) {
                    for (var r : ListPipeline.REDUCERS) {
                        out.add(new ListPipeline.Pipeline(p, f, m, r));
                    }
                }
            }
        }
        return out;
    }

    @Test
    void everyCombinationIsItsOwnInstructionWithItsOwnReferences() {
        List<ListPipeline.Pipeline> all = every();
        assertEquals(756, all.size());
        Set<String> instructions = new HashSet<>();
        Set<String> references = new HashSet<>();
        for (var p : all) {
            assertTrue(instructions.add(TaskContent.normalise(p.instruction())), "repeated: " + p.instruction());
            for (String ref : p.references()) {
                assertTrue(references.add(ref), "a reference of two pipelines: " + ref);
            }
        }
    }

    /** Java's answers (the judged cases' expected values) against Python running every reference, in one process. */
    @Test
    void everyReferenceOfEveryCombinationComputesWhatTheCasesExpect() throws Exception {
        Random r = new Random(3);
        StringBuilder script = new StringBuilder("import json\nfailures = []\n");
        int checks = 0;
        for (var p : every()) {
            var wrong = p.wrong();
            List<Templates.Case> cases = ListPipeline.cases(r, p, wrong);
            assertNotEquals(p, wrong, p.instruction());
            for (String ref : p.references()) {
                script.append("ns = {}\nexec(").append(Py.lit(ref)).append(", ns)\n");
                for (Templates.Case c : cases) {
                    script.append("got = ns['solve'](")
                            .append(Py.lit(c.args().get(0)))
                            .append(")\nif json.dumps(got) != json.dumps(json.loads(")
                            .append(Py.lit(Json.lit(c.expected())))
                            .append(")):\n    failures.append(")
                            .append(Py.lit(p.instruction()))
                            .append(" + ' ' + repr(got))\n");
                    checks++;
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
