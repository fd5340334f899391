package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Rollouts in the mesh: tasks from katmesh.tasks become groups of agent episodes against the inference
 * service over gRPC, with tool calls run in the sandbox; each episode branches once (a tree rollout).
 * The trajectories on katmesh.trajectories.rollout are well formed and the reward service takes them all.
 */
class RolloutIT {

    @Test
    void tasksBecomeGroupsOfEpisodesWithTreeBranches() throws Exception {
        Path model = Mesh.tinyModel("rollout-it", 4);
        String rollout = String.join(
                " ",
                "-Dkatmesh.rollout.group-size=2",
                "-Dkatmesh.rollout.max-turns=2",
                "-Dkatmesh.rollout.max-new-tokens=40",
                "-Dkatmesh.rollout.tree.branch-turns=1",
                "-Dkatmesh.rollout.tree.branch-factor=2",
                "-Dkatmesh.rollout.splits=train,heldout");
        try (Mesh mesh = Mesh.up(
                "rollout",
                Map.of(
                        "KATMESH_ROLLOUT_OPTS",
                        rollout,
                        "KATMESH_INFERENCE_OPTS",
                        "-Dkatmesh.inference.model-dir=" + model))) {
            DeployedAgents.tasks(mesh, 3);
            // 2 tasks x 2 episodes, each branching once at turn 1: 8 trajectories.
            String http = mesh.http("rollout");
            Mesh.awaitMetric(
                    http,
                    "katmesh_rollout_trajectories_published_total",
                    null,
                    8,
                    Duration.ofMinutes(4),
                    "8 trajectories published");
            Map<String, Trajectory> byId = new HashMap<>();
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.rollout", Integer.MAX_VALUE, Duration.ofSeconds(30))) {
                Trajectory t = Trajectory.parseFrom(r.value());
                byId.put(t.getTrajectoryId(), t);
                assertEquals(t.getGroupId(), r.key(), "keyed by group");
            }
            assertEquals(8, byId.size(), byId.keySet().toString());
            Map<String, List<Trajectory>> groups = new HashMap<>();
            int branches = 0;
            for (Trajectory t : byId.values()) {
                groups.computeIfAbsent(t.getGroupId(), g -> new ArrayList<>()).add(t);
                assertEquals(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT, t.getSource());
                assertTrue(!t.getTaskId().isEmpty() && t.getGroupId().startsWith(t.getTaskId()), t.getGroupId());
                assertTrue(
                        Set.of("max_turns", "submitted", "max_tokens").contains(t.getMetadataOrThrow("end_reason")),
                        t.getMetadataMap().toString());
                int at = 0;
                int generated = 0;
                for (TokenSegment s : t.getSegmentsList()) {
                    assertEquals(at, s.getStart(), t.getTrajectoryId() + ": segments are contiguous");
                    at = s.getEnd();
                    if (s.getGenerated()) {
                        generated++;
                        assertEquals(s.getEnd() - s.getStart(), s.getLogprobsCount(), "a log-prob per sampled token");
                    }
                }
                assertEquals(t.getTokenIdsCount(), at, "segments cover every token");
                assertTrue(generated >= 1, "the policy generated: " + t.getTrajectoryId());
                assertTrue(t.getMessagesCount() >= 3, "system, user, assistant at least");
                if (t.hasTree()) {
                    branches++;
                    Trajectory parent = byId.get(t.getTree().getParentTrajectoryId());
                    assertTrue(parent != null, "the parent of " + t.getTrajectoryId() + " is published too");
                    int k = t.getTree().getBranchTokenIndex();
                    assertEquals(
                            parent.getTokenIdsList().subList(0, k),
                            t.getTokenIdsList().subList(0, k),
                            "a branch shares its parent's tokens up to the branch point");
                    assertEquals(parent.getGroupId(), t.getGroupId(), "branches stay in their group");
                }
            }
            assertEquals(2, groups.size(), "one group per task: " + groups.keySet());
            assertEquals(4, branches, "every episode branched once at turn 1");
            // The reward service scores every one of them (tests of their task in the sandbox).
            Mesh.awaitMetric(
                    mesh.http("reward"), "katmesh_reward_scored_total", null, 8, Duration.ofMinutes(3), "all 8 scored");
            assertEquals(0.0, Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null), "none rejected");
        }
    }
}
