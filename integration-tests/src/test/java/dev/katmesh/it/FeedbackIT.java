package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Late feedback through the real broker: deployed sessions wait for verdicts on katmesh.feedback and are scored
 * with them once — a verdict that came before its session, a verdict sent twice and then a final one, none (the
 * window ends, across a SIGKILL of the reward), one for no session (dead-lettered with its reason once the window
 * ends), an unreadable one (dead-lettered at once) and one after the session was trained: a revision the online stage
 * drops as already trained and a replay of revisions trains. The audit accounts for every trajectory and verdict.
 */
class FeedbackIT {

    static final String WINDOW = "30s";

    static byte[] deployed(String session) {
        return deployed(session, "agent-fb");
    }

    static byte[] deployed(String session, String agent) {
        Trajectory t = LearnerIT.scoredRollout(session, 0, 0, 0).getTrajectory().toBuilder()
                .setTrajectoryId(session + "-t")
                .setSessionId(session)
                .setAgentId(agent)
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                .build();
        return t.toByteArray();
    }

    static void raw(Mesh mesh, String session) throws Exception {
        mesh.send(
                "katmesh.trajectories.raw",
                session,
                Map.of("content-type", "application/x-protobuf"),
                deployed(session));
    }

    static void feedback(Mesh mesh, String key, String json) throws Exception {
        mesh.send("katmesh.feedback", key, Map.of(), json.getBytes(StandardCharsets.UTF_8));
    }

    /** The scored records so far, by trajectory id and revision ("id#rev"). */
    static Map<String, ScoredTrajectory> scored(Mesh mesh, int atLeast, Duration timeout) throws Exception {
        Map<String, ScoredTrajectory> out = new HashMap<>();
        for (ConsumerRecord<String, byte[]> r : mesh.readAll("katmesh.trajectories.scored", atLeast, timeout)) {
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value());
            String key = s.getTrajectory().getTrajectoryId() + "#" + s.getRevision();
            assertTrue(out.put(key, s) == null, "one record per id and revision: " + key);
            assertEquals(String.valueOf(s.getRevision()), Mesh.header(r, "katmesh-revision"), "the revision header");
        }
        return out;
    }

    static double feedbackComponent(ScoredTrajectory s) {
        return s.getComponentsList().stream()
                .filter(c -> c.getName().equals("feedback"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no feedback component: " + s.getComponentsList()))
                .getValue();
    }

    @Test
    void deployedSessionsAreScoredOnceWithTheirFinalVerdict() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/feedback-it");
        Mesh.deleteRecursively(dir);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - name: online
                    objective: sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    batch: 1
                    steps: 100000
                    version_every: 1
                """);
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String learner = "-Dkatmesh.learner.model-dir=" + model;
        Map<String, String> env = Map.of(
                "KATMESH_REWARD_OPTS", "-Dkatmesh.reward.feedback.window=" + WINDOW,
                "KATMESH_LEARNER_OPTS", learner + " -Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"));
        try (Mesh mesh = Mesh.up("feedback", env)) {
            // A verdict before its session, one for no session, one that is not JSON.
            feedback(mesh, "s-before", "{\"value\": 1, \"kind\": \"pr_merged\"}");
            feedback(mesh, "nobody", "{\"value\": 1}");
            feedback(mesh, "s-twice", "{\"value\": 1, \"kind\": \"ci\"");
            raw(mesh, "s-before");
            raw(mesh, "s-twice");
            raw(mesh, "s-window");
            raw(mesh, "s-late");
            // A CI verdict sent twice (one id), then the final word: the PR was reverted.
            feedback(mesh, "s-twice", "{\"value\": 1, \"kind\": \"ci\", \"final\": false, \"id\": \"ci-1\"}");
            feedback(mesh, "s-twice", "{\"value\": 1, \"kind\": \"ci\", \"final\": false, \"id\": \"ci-1\"}");
            feedback(mesh, "s-twice", "{\"value\": -1, \"kind\": \"pr_reverted\", \"id\": \"pr-1\"}");

            Map<String, ScoredTrajectory> first = scored(mesh, 2, Duration.ofSeconds(25));
            assertEquals(
                    2,
                    first.size(),
                    "the two sessions with a final verdict, before the window ends: " + first.keySet());
            ScoredTrajectory before = first.get("s-before-t#0");
            assertEquals(1.0, feedbackComponent(before), 1e-9);
            assertEquals(1.0, before.getReward(), 1e-9, "taskless, no penalty: the verdict is the reward");
            ScoredTrajectory twice = first.get("s-twice-t#0");
            assertEquals(3, twice.getFeedbackCount(), "every verdict joined");
            assertEquals(0.0, feedbackComponent(twice), 1e-9, "ci 1 (once), pr -1: their mean");

            // The reward dies with two sessions held; the one that comes back reads them from the join and releases
            // them when their window ends.
            mesh.sigkill("reward");
            mesh.katmesh(Duration.ofMinutes(3), "restart", "reward");
            Map<String, ScoredTrajectory> all = scored(mesh, 4, Duration.ofSeconds(90));
            assertEquals(4, all.size(), all.keySet().toString());
            assertEquals(0, all.get("s-window-t#0").getFeedbackCount());
            assertEquals(0.0, all.get("s-window-t#0").getReward(), 1e-9);

            // s-late trained, then its verdict: a revision, which the online stage drops as already trained.
            Mesh.awaitAtLeast(() -> trainedCount(mesh, "s-late-t"), 1, Duration.ofSeconds(60), "s-late trained online");
            feedback(mesh, "s-late", "{\"value\": 1, \"kind\": \"rating\", \"final\": false}");
            Map<String, ScoredTrajectory> revised = scored(mesh, 5, Duration.ofSeconds(90));
            ScoredTrajectory late = revised.get("s-late-t#1");
            assertTrue(late != null, "a revision of s-late: " + revised.keySet());
            assertEquals(1.0, late.getReward(), 1e-9);
            Mesh.awaitMetric(
                    mesh.http("learner"),
                    LearnerIT.DROPPED,
                    "reason=\"already_trained\"",
                    1,
                    Duration.ofSeconds(60),
                    "the revision dropped as already trained");

            // Dead letters: the unreadable verdict at once, the one for no session at the window's end.
            Map<String, String> dead = new HashMap<>();
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.dlq", 2, Duration.ofSeconds(60))) {
                dead.put(r.key(), Mesh.header(r, "katmesh-reject-reason"));
                assertEquals("katmesh.feedback", Mesh.header(r, "dead-letter-topic"));
            }
            assertEquals(Map.of("nobody", "UNMATCHED_FEEDBACK", "s-twice", "MALFORMED_JSON"), dead);

            JsonNode audit = mesh.audit();
            assertEquals(0, audit.path("lost").size(), audit.toString());
            assertEquals(0, audit.path("trained_twice").size(), audit.toString());
            assertEquals(0, audit.path("scored_twice").size(), audit.toString());
            assertEquals(1, audit.path("revised").asInt(), audit.toString());
            JsonNode fb = audit.path("feedback");
            assertEquals(7, fb.path("received").asInt(), fb.toString());
            assertEquals(5, fb.path("joined").asInt(), fb.toString());
            assertEquals(2, fb.path("dead_lettered").asInt(), fb.toString());
            assertEquals(0, fb.path("lost").size(), fb.toString());
            assertTrue(audit.path("ok").asBoolean(), audit.toString());

            // A later stage takes the final verdict: a replay of the revisions trains s-late once more.
            Mesh without = Mesh.at(mesh.dataDir, Map.of("KATMESH_LEARNER_OPTS", learner));
            without.katmesh(
                    Duration.ofMinutes(5),
                    "replay",
                    "--stage",
                    "late-verdicts",
                    "--source",
                    "deployed",
                    "--revisions",
                    "revised",
                    "--batch",
                    "1");
            JsonNode ended = CurriculumIT.awaitStageEnded(mesh, "late-verdicts");
            assertEquals(1, ended.path("steps").asLong(), "one revision, one step: " + ended);
            int inReplay = 0;
            for (JsonNode e : ReplayIT.ledger(mesh)) {
                if ("late-verdicts".equals(e.path("replay").asText(null))) {
                    for (JsonNode id : e.path("trained")) {
                        assertEquals("s-late-t", id.asText());
                        inReplay++;
                    }
                }
            }
            assertEquals(1, inReplay);
            assertEquals(0, mesh.audit().path("trained_twice").size());
        }
    }

    static double trainedCount(Mesh mesh, String id) {
        return count(mesh, id, "trained");
    }

    static double droppedAsTrained(Mesh mesh, String id) {
        return count(mesh, id, "already_trained");
    }

    private static double count(Mesh mesh, String id, String field) {
        try {
            int n = 0;
            for (JsonNode e : ReplayIT.ledger(mesh)) {
                JsonNode ids = field.equals("trained")
                        ? e.path("trained")
                        : e.path("dropped").path(field);
                for (JsonNode x : ids) {
                    n += x.asText().equals(id) ? 1 : 0;
                }
            }
            return n;
        } catch (Exception e) {
            return 0;
        }
    }
}
