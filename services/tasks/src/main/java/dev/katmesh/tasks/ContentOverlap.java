package dev.katmesh.tasks;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.Trajectory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How much of the evaluation tasks' content occurs in what a model trains on: for each evaluation task,
 * whether its instruction, its judged input set or any reference solution occurs (after
 * {@link TaskContent#normalise normalisation}) in a training task, or as a substring of a training text
 * (the teacher's trajectories, the mid-term corpus). All counts are zero for an honest split.
 *
 * @param tasks  evaluation tasks checked
 * @param counts tasks with an overlap, by "what:where" (e.g. "instruction:teacher")
 * @param examples up to five overlapping task ids with what overlapped
 */
public record ContentOverlap(int tasks, Map<String, Integer> counts, List<String> examples) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Kinds of material a model trains on. */
    public record Material(String name, List<Task> tasks, List<String> texts) {}

    /**
     * The texts a model reads in a trajectory: message contents and the string values of tool-call
     * arguments, decoded (a solution written with write_file is in its arguments, JSON-escaped).
     */
    public static List<String> texts(Trajectory t) {
        List<String> out = new ArrayList<>();
        for (ChatMessage m : t.getMessagesList()) {
            out.add(m.getContent());
            for (ToolCall c : m.getToolCallsList()) {
                try {
                    JSON.readTree(c.getArguments()).forEach(v -> out.add(v.isTextual() ? v.asText() : v.toString()));
                } catch (IOException | RuntimeException e) {
                    out.add(c.getArguments());
                }
            }
        }
        return out;
    }

    public int total() {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    public static ContentOverlap of(List<Task> evaluation, List<Material> materials) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        List<String> examples = new ArrayList<>();
        for (Material m : materials) {
            Set<String> instructions = new HashSet<>();
            Set<String> inputs = new HashSet<>();
            Set<String> references = new HashSet<>();
            for (Task t : m.tasks()) {
                TaskContent c = TaskContent.of(t);
                instructions.add(c.instruction());
                inputs.add(c.inputs());
                references.addAll(c.references());
            }
            List<String> texts = m.texts().stream().map(TaskContent::normalise).toList();
            for (String what : List.of("instruction", "inputs", "reference")) {
                counts.put(what + ":" + m.name(), 0);
            }
            for (Task t : evaluation) {
                TaskContent c = TaskContent.of(t);
                check(
                        counts,
                        examples,
                        t,
                        "instruction",
                        m.name(),
                        instructions.contains(c.instruction()) || inAny(texts, c.instruction()));
                check(counts, examples, t, "inputs", m.name(), !c.inputs().isEmpty() && inputs.contains(c.inputs()));
                check(
                        counts,
                        examples,
                        t,
                        "reference",
                        m.name(),
                        c.references().stream().anyMatch(r -> references.contains(r) || inAny(texts, r)));
            }
        }
        return new ContentOverlap(evaluation.size(), counts, examples);
    }

    private static void check(
            Map<String, Integer> counts, List<String> examples, Task t, String what, String where, boolean overlaps) {
        if (overlaps) {
            counts.merge(what + ":" + where, 1, Integer::sum);
            if (examples.size() < 5) {
                examples.add(t.getTaskId() + " (" + what + " in " + where + ")");
            }
        }
    }

    /**
     * Whether a text holds the needle as a whole: not inside a longer number or word ("return a % 23" is
     * not in "return a % 2302", which is another task's code).
     */
    static boolean inAny(List<String> texts, String needle) {
        for (String s : texts) {
            for (int at = s.indexOf(needle); at >= 0; at = s.indexOf(needle, at + 1)) {
                boolean startsClean = at == 0 || !joins(s.charAt(at - 1), needle.charAt(0));
                int end = at + needle.length();
                boolean endsClean = end == s.length() || !joins(needle.charAt(needle.length() - 1), s.charAt(end));
                if (startsClean && endsClean) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Two characters side by side that belong to one word or number. */
    private static boolean joins(char a, char b) {
        return Character.isLetterOrDigit(a) && Character.isLetterOrDigit(b);
    }

    /** One line for a setup report: "0 of 120 evaluation tasks overlap training content" or what does. */
    public String summary() {
        if (total() == 0) {
            return "0 of " + tasks
                    + " evaluation tasks share an instruction, input set or reference with training data";
        }
        StringBuilder b = new StringBuilder("OVERLAP with training data:");
        counts.forEach((k, v) -> {
            if (v > 0) {
                b.append(' ').append(k).append('=').append(v);
            }
        });
        return b.append(" (e.g. ")
                .append(String.join(", ", examples))
                .append(')')
                .toString();
    }
}
