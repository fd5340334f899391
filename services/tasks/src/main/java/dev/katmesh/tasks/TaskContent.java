package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestCase;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * What a task is made of, normalised (lower case, whitespace collapsed), for deciding that two tasks are
 * the same by content rather than by id: its instruction, the set of its judged test inputs, and each
 * reference solution. The suite never generates two tasks that share any of these, and splits by them.
 */
public record TaskContent(String instruction, String inputs, List<String> references) {

    public static TaskContent of(Task task) {
        TreeSet<String> inputs = new TreeSet<>();
        for (TestSuite s : TaskTests.scoredSuites(task)) {
            for (TestCase c : s.getCasesList()) {
                StringBuilder b = new StringBuilder(c.getArgsJson());
                for (WorkspaceFile f : c.getFilesList()) {
                    b.append('|')
                            .append(f.getPath())
                            .append('=')
                            .append(f.getContent().toStringUtf8());
                }
                inputs.add(normalise(b.toString()));
            }
        }
        List<String> refs = new ArrayList<>();
        for (ReferenceSolution r : task.getReferencesList()) {
            refs.add(normalise(r.getContent()));
        }
        return new TaskContent(normalise(task.getInstruction()), String.join("\n", inputs), List.copyOf(refs));
    }

    /** Lower case, runs of whitespace as one space, trimmed. */
    public static String normalise(String s) {
        return s.toLowerCase(Locale.ROOT).replaceAll("\\s+", " ").strip();
    }

    /** Every key of this task (for a set of used content). */
    List<String> keys() {
        List<String> k = new ArrayList<>();
        k.add("instruction:" + instruction);
        if (!inputs.isEmpty()) {
            k.add("inputs:" + inputs);
        }
        references.forEach(r -> k.add("reference:" + r));
        return k;
    }
}
