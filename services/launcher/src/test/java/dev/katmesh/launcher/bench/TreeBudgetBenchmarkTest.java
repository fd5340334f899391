package dev.katmesh.launcher.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.training.TrainingSample;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TreeBudgetBenchmarkTest {

    @TempDir
    Path dir;

    private static ScoredTrajectory leaf(String tree, String id, boolean main, double reward, int... tokens) {
        Trajectory.Builder t = Trajectory.newBuilder()
                .setTrajectoryId(id)
                .setGroupId(tree)
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("fix it"))
                .putMetadata("tree_id", tree)
                .putMetadata("tree_main_line", Boolean.toString(main))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(2)
                        .setEnd(tokens.length)
                        .setGenerated(true)
                        .addAllLogprobs(Collections.nCopies(tokens.length - 2, -0.5f)));
        for (int x : tokens) {
            t.addTokenIds(x);
        }
        return ScoredTrajectory.newBuilder().setTrajectory(t).setReward(reward).build();
    }

    @Test
    void anExportsSessionTreesAreGroupedByTreeWithTheirOpenEnds() throws Exception {
        List<String> lines = new ArrayList<>();
        for (ScoredTrajectory s : List.of(
                leaf("a", "a.1", false, 1, 1, 2, 3, 4),
                leaf("b", "b", true, 1, 9, 9, 9),
                leaf("a", "a", true, 1, 1, 2, 5, 6),
                leaf("c", "c", true, 0.2, 7, 7, 7))) {
            lines.add(new String(ScoredJson.write(s), StandardCharsets.UTF_8).strip());
        }
        Path f = dir.resolve("export.jsonl");
        Files.write(f, lines);
        Set<TrainingSample> open = Collections.newSetFromMap(new IdentityHashMap<>());
        List<List<TrainingSample>> trees = TreeBudgetBenchmark.trees(f, 0.5, open);
        assertEquals(2, trees.size(), "trees a and b; c is scored below 0.5");
        assertEquals(2, trees.get(0).size(), "a's two leaves, though b came between them");
        assertEquals(1, open.size());
        assertTrue(open.contains(trees.get(0).get(0)), "a.1 is the leaf the session did not end on");
        assertTrue(
                trees.get(0).get(1).trainable()[3] && !trees.get(0).get(1).trainable()[1], "its sampled tokens train");
    }
}
