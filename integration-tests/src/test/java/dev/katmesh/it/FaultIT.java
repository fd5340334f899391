package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Faults on a running mesh: while deployed-agent trajectories stream into katmesh.trajectories.raw, three agents
 * hold multi-turn sessions with inference (captured) and the rollout service works tasks through inference, each of
 * learner, reward, inference and rollout is SIGKILLed and restarted, then the Kafka broker is restarted. After
 * recovery `./katmesh audit` must find every published trajectory scored or dead-lettered, every scored one trained
 * (the learner runs SFT on the topic, so every record is trainable) exactly once, nothing lost, nothing scored or
 * trained twice, and every request inference logged in one assembled trajectory; and every response the agents
 * received — including those of the sessions open when inference was SIGKILLed — is in exactly one scored
 * trajectory. Each recovery time (kill to the service doing its work again) is printed and written to
 * target/fault-recovery.json.
 */
class FaultIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration RECOVERY = Duration.ofMinutes(3);

    @Test
    void everyTrajectoryIsTrainedExactlyOnceThroughCrashesOfEveryProcess() throws Exception {
        Map<String, String> env = new HashMap<>(DeployedAgents.onlineSftMesh("fault-it", "fault-it-key"));
        // Trees whose inference died are closed 30 s after their last request (5 min by default).
        env.put("KATMESH_REWARD_OPTS", "-Dkatmesh.reward.capture.orphan-timeout=30s");
        env.put(
                "KATMESH_INFERENCE_OPTS",
                env.get("KATMESH_INFERENCE_OPTS") + " -Dkatmesh.inference.capture.idle-timeout=15s");
        ObjectNode recovery = JSON.createObjectNode();
        try (Mesh mesh = Mesh.up("fault", env)) {
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger sent = new AtomicInteger();
            AtomicInteger sendFailures = new AtomicInteger();
            Thread agents =
                    new Thread(() -> DeployedAgents.publishUntil(mesh, stop, sent, sendFailures), "fault-it-agents");
            agents.start();
            Set<String> served = ConcurrentHashMap.newKeySet();
            AtomicInteger refused = new AtomicInteger();
            List<Thread> sessions =
                    DeployedAgents.sessionsUntil(mesh, "fault-it-key", "fault-it", 3, stop, served, refused);
            try {
                DeployedAgents.tasks(mesh, 1);
                String learnerHttp = mesh.http("learner");
                Mesh.awaitMetric(
                        learnerHttp,
                        LearnerIT.TRAINED,
                        null,
                        16,
                        Duration.ofMinutes(3),
                        "the learner trains before the faults");
                Mesh.awaitMetric(
                        mesh.http("rollout"),
                        "katmesh_rollout_trajectories_published_total",
                        null,
                        1,
                        Duration.ofMinutes(3),
                        "rollout works before the faults");

                recovery.put("learner_s", killAndRecover(mesh, "learner", LearnerIT.TRAINED));
                recovery.put("reward_s", killAndRecover(mesh, "reward", "katmesh_reward_scored_total"));
                recovery.put("inference_s", seconds(inferenceRecovery(mesh)));
                long t0 = System.nanoTime();
                mesh.sigkill("rollout");
                mesh.katmesh(RECOVERY, "restart", "rollout");
                DeployedAgents.tasks(mesh, 2);
                Mesh.awaitMetric(
                        mesh.http("rollout"),
                        "katmesh_rollout_trajectories_published_total",
                        null,
                        1,
                        RECOVERY,
                        "rollout resumes after its SIGKILL");
                recovery.put("rollout_s", seconds(System.nanoTime() - t0));

                double scored = Mesh.metric(mesh.http("reward"), "katmesh_reward_scored_total", null);
                double trained = Mesh.metric(learnerHttp, LearnerIT.TRAINED, null);
                t0 = System.nanoTime();
                mesh.katmesh(RECOVERY, "restart", "kafka");
                Mesh.awaitMetric(
                        mesh.http("reward"),
                        "katmesh_reward_scored_total",
                        null,
                        scored + 4,
                        RECOVERY,
                        "scoring resumes after the broker restart");
                Mesh.awaitMetric(
                        learnerHttp,
                        LearnerIT.TRAINED,
                        null,
                        trained + 4,
                        RECOVERY,
                        "training resumes after the broker restart");
                recovery.put("kafka_s", seconds(System.nanoTime() - t0));
            } finally {
                stop.set(true);
                agents.join(60_000);
                for (Thread t : sessions) {
                    t.join(120_000);
                }
            }
            recovery.put("trajectories_sent", sent.get());
            recovery.put("send_failures", sendFailures.get());
            recovery.put("requests_served", served.size());
            recovery.put("requests_refused", refused.get());
            assertTrue(served.size() >= 30, "the agents' sessions were served: " + recovery);
            System.out.println("fault recovery (s): " + recovery);
            Files.writeString(
                    Mesh.HOME.resolve("integration-tests/target/fault-recovery.json"), recovery.toPrettyString());

            DeployedAgents.assertEveryTrajectoryOnce(mesh, sent.get(), sendFailures.get());
            DeployedAgents.assertEveryServedRequestOnce(mesh, served);
        }
    }

    /** SIGKILLs a service, restarts it, and returns the seconds until its counter moves in the new process. */
    private static double killAndRecover(Mesh mesh, String service, String counter) throws Exception {
        long t0 = System.nanoTime();
        mesh.sigkill(service);
        mesh.katmesh(RECOVERY, "restart", service);
        Mesh.awaitMetric(mesh.http(service), counter, null, 1, RECOVERY, service + " works again after its SIGKILL");
        return seconds(System.nanoTime() - t0);
    }

    /** SIGKILLs inference; the time until it completes a chat request again. */
    private static long inferenceRecovery(Mesh mesh) throws Exception {
        long t0 = System.nanoTime();
        mesh.sigkill("inference");
        mesh.katmesh(RECOVERY, "restart", "inference");
        HttpClient http = HttpClient.newHttpClient();
        String body =
                "{\"model\":\"fault-it\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
        long deadline = System.nanoTime() + RECOVERY.toNanos();
        int status = 0;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(mesh.http("inference") + "/v1/chat/completions"))
                            .header("authorization", "Bearer fault-it-key")
                            .header("content-type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            status = r.statusCode();
            if (status == 200) {
                return System.nanoTime() - t0;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("inference did not serve again within " + RECOVERY + " (last status " + status + ")");
    }

    private static double seconds(long nanos) {
        return Math.round(nanos / 1e8) / 10.0;
    }
}
