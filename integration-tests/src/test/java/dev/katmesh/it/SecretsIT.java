package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Secrets an agent saw never reach the scored topic: a session an agent publishes (JSON, secrets in a tool's output,
 * a tool call's arguments and a user message) and a session inference captures (a key in the prompt) are scored
 * with placeholders in their place, trained, and counted by rule; the rollout source, set to reject, dead-letters
 * its record with reason SECRET, naming the rule and never the secret. The audit accounts for every id.
 */
class SecretsIT {

    static final String API_KEY = "it-secrets-key";
    static final ObjectMapper JSON = new ObjectMapper();
    // Made for this test in each provider's format; none is a real credential.
    static final String GITHUB = "ghp_" + "R4nd0mT0k3nF0rKatm3shT3sts0nlyXy9Zq1";
    static final String AWS_ID = "AKIA" + "Q3KT7MZP2WX5LN6D";
    static final String OPENAI = "sk-proj-" + "v7Yq2LmN9pR4sT6uW8xZ1bC3dF5gH7jK9mN2pQ4rS6tV8wX0yZ2aB4cD6eF8";
    static final String DB_PASSWORD = "Tr0ub4dor&3x";
    static final String PEM =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
                    + "QyNTUxOQAAACD5bK3nX9rT2yQ7pLm4vW8sZ1cD6fH0jN3kR5tU7wY9aBcDeFgHiJkLmNoP\n"
                    + "-----END OPENSSH PRIVATE KEY-----";

    static Mesh mesh;

    @BeforeAll
    static void up() throws Exception {
        // The learner trains every scored trajectory with plain SFT: redacted turns must get no loss there too.
        Map<String, String> env = new HashMap<>(DeployedAgents.onlineSftMesh("secrets-it", API_KEY));
        env.put("KATMESH_REWARD_OPTS", "-Dkatmesh.reward.secrets.rollout=reject");
        mesh = Mesh.up("secrets", env);
    }

    @AfterAll
    static void down() throws Exception {
        if (mesh != null) {
            mesh.close();
        }
    }

    @Test
    void secretsAreRedactedOrRejectedAsTheSourceSaysAndNeverReachTheScoredTopic() throws Exception {
        // 1. A deployed agent publishes its session as JSON, with kcat.
        ObjectNode published = JSON.createObjectNode()
                .put("trajectory_id", "secrets-published")
                .put("group_id", "g-secrets")
                .put("session_id", "s-published");
        var messages = published.putArray("messages");
        messages.addObject().put("role", "user").put("content", "Deploy it; my GitHub token is " + GITHUB);
        var call = messages.addObject()
                .put("role", "assistant")
                .put("content", "")
                .putArray("tool_calls")
                .addObject();
        call.put("id", "c1").put("type", "function");
        call.putObject("function")
                .put("name", "bash")
                .put("arguments", "{\"command\":\"AWS_ACCESS_KEY_ID=" + AWS_ID + " aws s3 ls && cat .env\"}");
        messages.addObject()
                .put("role", "tool")
                .put("tool_call_id", "c1")
                .put("content", "DB_HOST=db\nDB_PASSWORD=" + DB_PASSWORD + "\n");
        messages.addObject().put("role", "assistant").put("content", "Deployed.");
        Path file = Mesh.scratchFile("secrets-session", ".json");
        Files.write(file, JSON.writeValueAsBytes(published));
        mesh.kcat("katmesh.trajectories.raw", "g-secrets", Map.of("content-type", "application/json"), file);

        // 2. A session inference captures: the key is in the prompt the agent sent.
        String inference =
                mesh.status().path("services").path("inference").path("openai").asText();
        ObjectNode chat = JSON.createObjectNode().put("model", "secrets-it").put("max_tokens", 4);
        chat.putArray("messages").addObject().put("role", "user").put("content", "Use this key: " + OPENAI);
        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> answer = http.send(
                HttpRequest.newBuilder(URI.create(inference + "/chat/completions"))
                        .header("Authorization", "Bearer " + API_KEY)
                        .header("Content-Type", "application/json")
                        .header("x-katmesh-session-id", "s-captured")
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(chat)))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, answer.statusCode(), answer.body());
        HttpResponse<String> ended = http.send(
                HttpRequest.newBuilder(URI.create(inference + "/sessions/s-captured/end"))
                        .header("Authorization", "Bearer " + API_KEY)
                        .POST(HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ended.statusCode(), ended.body());
        String capturedId = JSON.readTree(ended.body()).path("trajectory_id").asText();

        // 3. A rollout that printed a private key: its source rejects secrets.
        Trajectory rollout = Trajectory.newBuilder()
                .setTrajectoryId("secrets-rollout")
                .setGroupId("g-rollout")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Fix the build."))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("Reading the key."))
                .addSteps(
                        ToolStep.newBuilder().setToolName("bash").setOutput(PEM).setMessageIndex(1))
                .build();
        mesh.send(
                "katmesh.trajectories.rollout",
                "g-rollout",
                Map.of("content-type", "application/x-protobuf"),
                rollout.toByteArray());

        List<ConsumerRecord<String, byte[]>> scored =
                mesh.readAll("katmesh.trajectories.scored", 2, Duration.ofSeconds(90));
        Map<String, ScoredTrajectory> byId = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : scored) {
            String bytes = new String(r.value(), StandardCharsets.ISO_8859_1);
            for (String secret : List.of(GITHUB, AWS_ID, OPENAI, DB_PASSWORD, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU")) {
                assertFalse(bytes.contains(secret), "a secret on the scored topic: " + secret);
            }
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
            byId.put(s.getTrajectory().getTrajectoryId(), s);
        }
        ScoredTrajectory p = byId.get("secrets-published");
        assertTrue(p != null, "the published session is scored: " + byId.keySet());
        assertEquals(
                "Deploy it; my GitHub token is [REDACTED:github-token]",
                p.getTrajectory().getMessages(0).getContent());
        assertEquals(
                "DB_HOST=db\nDB_PASSWORD=[REDACTED:password-assignment]\n",
                p.getTrajectory().getMessages(2).getContent());
        assertEquals(
                Set.of(
                        "github-token@messages[0].content",
                        "aws-access-key-id@messages[1].tool_calls[0].arguments",
                        "password-assignment@messages[2].content"),
                where(p));
        ScoredTrajectory c = byId.get(capturedId);
        assertTrue(c != null, "the captured session " + capturedId + " is scored: " + byId.keySet());
        assertTrue(where(c).contains("openai-api-key@messages[0].content"), where(c).toString());
        assertEquals(0, c.getTrajectory().getTokenIdsCount(), "its token ids spelled the key: dropped");

        List<ConsumerRecord<String, byte[]>> dlq = mesh.readAll("katmesh.trajectories.dlq", 1, Duration.ofSeconds(60));
        assertEquals(1, dlq.size(), "the rollout is dead-lettered");
        assertEquals("SECRET", Mesh.header(dlq.get(0), "katmesh-reject-reason"));
        String why = Mesh.header(dlq.get(0), "dead-letter-reason");
        assertTrue(why.contains("private-key x1 in steps[0].output"), why);
        assertFalse(why.contains("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"), "the reason names the rule, not the secret");

        String reward = mesh.http("reward");
        assertEquals(
                1.0,
                Mesh.metric(reward, "katmesh_reward_secrets_total", "rule=\"github-token\",source=\"deployed\""),
                "counted by rule and source");
        assertEquals(
                1.0, Mesh.metric(reward, "katmesh_reward_secrets_total", "action=\"reject\",rule=\"private-key\""));

        JsonNode audit = null;
        for (int i = 0; i < 30; i++) { // until the learner has trained or dropped both scored records
            audit = mesh.audit();
            if (audit.path("pending").path("learner").asInt() == 0
                    && audit.path("trained").asInt() + audit.path("dropped").asInt() >= 2) {
                break;
            }
            Thread.sleep(2000);
        }
        assertTrue(audit.path("ok").asBoolean(), "nothing lost, trained or scored twice: " + audit);
        assertEquals(2, audit.path("trained").asInt(), "both redacted sessions trained (their clean turns): " + audit);
        assertEquals(1, audit.path("dead_letter_reasons").path("SECRET").asInt(), audit.toString());
    }

    private static Set<String> where(ScoredTrajectory s) {
        return s.getRedactionsList().stream()
                .map(r -> r.getRule() + "@" + r.getField())
                .collect(Collectors.toSet());
    }
}
