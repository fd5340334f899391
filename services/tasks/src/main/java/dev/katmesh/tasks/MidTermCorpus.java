package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.util.ArrayList;
import java.util.List;

/**
 * The mid-term code corpus: instructions with their reference solutions, and visible test files, as plain
 * documents (language modelling, no chat format). Made from tasks past the suite's first n
 * ({@link TaskSuite#generate(int, int)}), which share no content with any task of the first n.
 */
public final class MidTermCorpus {

    private MidTermCorpus() {}

    public static List<String> documents(List<Task> tasks) {
        List<String> corpus = new ArrayList<>();
        for (Task t : tasks) {
            for (ReferenceSolution r : t.getReferencesList()) {
                corpus.add("# " + t.getInstruction() + "\n# " + r.getPath() + "\n" + r.getContent());
            }
            for (TestSuite s : TaskTests.visibleSuites(t)) {
                for (WorkspaceFile f : s.getFilesList()) {
                    corpus.add("# " + f.getPath() + "\n" + f.getContent().toStringUtf8());
                }
            }
        }
        return corpus;
    }
}
