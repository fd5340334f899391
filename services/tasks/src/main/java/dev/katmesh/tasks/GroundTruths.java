package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.nio.charset.StandardCharsets;

/**
 * A task's ground truths (its reference solutions) and where a piece of work stands against them, in both of
 * {@link Similarity}'s forms: the reward scores a submission with it, the rollout service a partial episode.
 */
public final class GroundTruths {

    /**
     * Where a text stands: the most similar reference (absolute form) and the nearest by relative discrepancy.
     *
     * @param similarity  the highest absolute similarity over the references, 0 without references
     * @param similarId   that reference's id ("none" without references)
     * @param discrepancy the least relative discrepancy over the references, 1 (where it started) without references
     * @param nearestId   that reference's id
     */
    public record Standing(double similarity, String similarId, double discrepancy, String nearestId) {
        /** The share of the way from the start to the nearest reference that is done: 1 − discrepancy, at least 0. */
        public double progress() {
            return Math.max(0, 1 - discrepancy);
        }
    }

    private final Task task;
    private final String solutionPath;
    private final String start;

    private GroundTruths(Task task, String solutionPath, String start) {
        this.task = task;
        this.solutionPath = solutionPath;
        this.start = start;
    }

    /** The task's references, its solution file ({@code solution_path}, solution.py by default) and its start text. */
    public static GroundTruths of(Task task) {
        String path = task.getTagsOrDefault("solution_path", "solution.py");
        String start = "";
        for (WorkspaceFile f : task.getFilesList()) {
            if (f.getPath().equals(path)) {
                start = f.getContent().toString(StandardCharsets.UTF_8);
            }
        }
        return new GroundTruths(task, path, start);
    }

    public boolean any() {
        return task.getReferencesCount() > 0;
    }

    public String solutionPath() {
        return solutionPath;
    }

    /** The solution file's text before the agent touched it ("" when the task gives none). */
    public String start() {
        return start;
    }

    /** Where {@code text} stands against the references. */
    public Standing standing(String text) {
        double similarity = 0;
        String similarId = "none";
        double discrepancy = 1;
        String nearestId = "none";
        for (ReferenceSolution ref : task.getReferencesList()) {
            double s = Similarity.of(text, ref.getContent());
            if (s > similarity || similarId.equals("none")) {
                similarity = s;
                similarId = ref.getId();
            }
            double d = Similarity.discrepancy(text, ref.getContent(), start);
            if (d < discrepancy || nearestId.equals("none")) {
                discrepancy = d;
                nearestId = ref.getId();
            }
        }
        return new Standing(similarity, similarId, discrepancy, nearestId);
    }
}
