package dev.katmesh.tasks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ReferenceSolution;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.TestSuite;
import dev.katmesh.proto.v1.WorkspaceFile;
import java.util.ArrayList;
import java.util.List;

/**
 * The mid-term code corpus: instructions with their reference solutions, and visible test files, as plain
 * documents (language modelling, no chat format). Made from training tasks, or from tasks past the suite's first n
 * ({@link TaskSuite#generate(int, int)}), which share no content with any task of the first n.
 *
 * <p>Each solution is there twice: as code, and as an agent writes it, the instruction followed by the
 * {@code write_file} tool call whose JSON string holds the code ({@code \n} for each newline, {@code \"} for each
 * quote). The agent's code is that string, other tokens than the code's own, and a skill learnt on code alone
 * did not carry over to it: after SFT the main job wrote the pipelines' form with steps from other instances.
 */
public final class MidTermCorpus {

    private static final ObjectMapper JSON = new ObjectMapper();

    private MidTermCorpus() {}

    public static List<String> documents(List<Task> tasks) {
        List<String> corpus = new ArrayList<>();
        for (Task t : tasks) {
            for (ReferenceSolution r : t.getReferencesList()) {
                corpus.add("# " + t.getInstruction() + "\n# " + r.getPath() + "\n" + r.getContent());
                corpus.add("# " + t.getInstruction() + "\n" + writeFileCall(r.getPath(), r.getContent()));
            }
            for (TestSuite s : TaskTests.visibleSuites(t)) {
                for (WorkspaceFile f : s.getFilesList()) {
                    corpus.add("# " + f.getPath() + "\n" + f.getContent().toStringUtf8());
                }
            }
        }
        return corpus;
    }

    /**
     * The tool call as the chat template renders the teacher's: Hermes syntax, arguments by name in order, Python's
     * {@code json.dumps} separators (for these ASCII strings its escapes are Jackson's).
     */
    public static String writeFileCall(String path, String content) {
        try {
            return "<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"content\": "
                    + JSON.writeValueAsString(content) + ", \"path\": " + JSON.writeValueAsString(path)
                    + "}}\n</tool_call>";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
