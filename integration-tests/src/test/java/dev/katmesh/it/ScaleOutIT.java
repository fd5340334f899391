package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.mesh.ConsumerGroups;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;

/**
 * Scale-out on one machine, driven as an operator would: a mesh with two rollout instances, its reward scaled from
 * one instance to two while deployed agents publish (`./katmesh up --instances reward=2`), then the second reward
 * instance SIGKILLed and scaled away (`--instances reward=1`). Each consumer group must share its partitions among
 * its instances, the dead instance's partitions must move to the survivor, and the audit must find every
 * trajectory scored and trained once: none lost, none scored twice while partitions moved both ways. The
 * assignments and the time the move took go to target/scale-out.json.
 */
class ScaleOutIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofMinutes(3);
    private static final String REWARD_GROUP = "katmesh-reward";
    private static final String ROLLOUT_GROUP = "katmesh-rollout";
    /** katmesh.tasks (kafka-topics/). */
    private static final int TASK_PARTITIONS = 6;
    /** katmesh.trajectories.raw and katmesh.trajectories.rollout, 12 each (kafka-topics/). */
    private static final int TRAJECTORY_PARTITIONS = 24;

    @Test
    void partitionsAreSharedAndMoveWithNothingLostOrScoredTwice() throws Exception {
        Map<String, String> env = DeployedAgents.onlineSftMesh("scale-out-it", "scale-out-key");
        ObjectNode report = JSON.createObjectNode();
        try (Mesh mesh = Mesh.up("scale-out", env, "--instances", "rollout=2")) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger sent = new AtomicInteger();
            AtomicInteger sendFailures = new AtomicInteger();
            Thread agents =
                    new Thread(() -> DeployedAgents.publishUntil(mesh, stop, sent, sendFailures), "scale-out-agents");
            agents.start();
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, mesh.bootstrap()))) {
                DeployedAgents.tasks(mesh, 1);
                Mesh.awaitMetric(mesh.http("reward"), "katmesh_reward_scored_total", null, 8, WAIT, "reward scores");
                Map<String, Set<String>> rollout = awaitMembers(admin, ROLLOUT_GROUP, 2, TASK_PARTITIONS);
                report.set("rollout_assignment", JSON.valueToTree(rollout));

                // Scale up while agents publish: the group rebalances, the first instance hands partitions over.
                mesh.katmesh(Duration.ofMinutes(5), "up", "--detach", "--instances", "reward=2");
                JsonNode status = mesh.status();
                assertEquals(
                        "UP",
                        status.path("services").path("reward-2").path("health").asText(),
                        "the second reward instance runs: " + status);
                Map<String, Set<String>> shared = awaitMembers(admin, REWARD_GROUP, 2, TRAJECTORY_PARTITIONS);
                report.set("reward_assignment_2", JSON.valueToTree(shared));
                String reward2 =
                        status.path("services").path("reward-2").path("http").asText();
                Mesh.awaitMetric(reward2, "katmesh_reward_scored_total", null, 4, WAIT, "reward-2 scores its share");

                // Kill the second instance and scale back to one: its partitions move to the first.
                double before = Mesh.metric(mesh.http("reward"), "katmesh_reward_scored_total", null);
                long t0 = System.nanoTime();
                mesh.sigkill("reward-2");
                mesh.katmesh(Duration.ofMinutes(5), "up", "--detach", "--instances", "reward=1");
                Map<String, Set<String>> moved = awaitMembers(admin, REWARD_GROUP, 1, TRAJECTORY_PARTITIONS);
                report.put("partitions_moved_after_s", Math.round((System.nanoTime() - t0) / 1e8) / 10.0);
                report.set("reward_assignment_1", JSON.valueToTree(moved));
                Set<String> all = new TreeSet<>();
                shared.values().forEach(all::addAll);
                assertEquals(
                        all,
                        moved.values().iterator().next(),
                        "the survivor owns every partition the two shared: " + moved);
                Mesh.awaitMetric(
                        mesh.http("reward"),
                        "katmesh_reward_scored_total",
                        null,
                        before + 8,
                        WAIT,
                        "the survivor scores on");
                assertTrue(
                        !mesh.status().path("services").has("reward-2"), "reward-2 is scaled away: " + mesh.status());
            } finally {
                stop.set(true);
                agents.join(60_000);
            }
            report.put("trajectories_sent", sent.get());
            System.out.println("scale-out: " + report);
            Files.writeString(Mesh.HOME.resolve("integration-tests/target/scale-out.json"), report.toPrettyString());
            DeployedAgents.assertEveryTrajectoryOnce(mesh, sent.get(), sendFailures.get());
        }
    }

    private static Map<String, Set<String>> awaitMembers(Admin admin, String group, int members, int partitions)
            throws Exception {
        return ConsumerGroups.awaitStable(admin, group, members, partitions, WAIT);
    }
}
