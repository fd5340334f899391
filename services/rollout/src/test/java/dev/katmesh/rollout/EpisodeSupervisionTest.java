package dev.katmesh.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.proto.v1.Task;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.tasks.AgentPolicy;
import dev.katmesh.tasks.AgentTools;
import dev.katmesh.tasks.Episode;
import dev.katmesh.tasks.TaskSuite;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * An episode supervised under the rule its policy version was announced with: ended as deviated when it never comes
 * near a reference, left alone when it writes one, and not supervised under a version announced without a rule.
 */
class EpisodeSupervisionTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final RolloutSupervision RULE = RolloutSupervision.newBuilder()
            .setMaxDiscrepancy(0.9)
            .setPatience(2)
            .setGraceTurns(2)
            .setEnforce(true)
            .setStage("rft-rollout-supervision")
            .build();
    // Tools that touch only the workspace (read_file, write_file): no sandbox is needed.
    final AgentTools tools = new AgentTools(null, Duration.ofSeconds(5));
    final Task task = new TaskSuite(11).variant(0).task();
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    SupervisionRules rules() {
        SupervisionRules rules = new SupervisionRules();
        rules.registry = registry;
        rules.onVersion(PolicyVersion.newBuilder()
                .setVersion(7)
                .setStage("rft-rollout-supervision")
                .setRolloutSupervision(RULE)
                .build()
                .toByteArray());
        rules.onVersion(
                PolicyVersion.newBuilder().setVersion(8).setStage("rft").build().toByteArray());
        rules.onVersion("not a version".getBytes());
        return rules;
    }

    /** Runs turns of {@code call} (a tool call's JSON) from version {@code version} until supervision stops it. */
    int run(Episode e, EpisodeSupervision s, long version, String call) throws Exception {
        for (int turn = 1; turn < 8; turn++) { // the 8th would end it by the turn limit
            AgentPolicy.Generated g = new AgentPolicy.Generated(
                    new int[] {1, 2, 3},
                    new float[3],
                    new long[] {version, version, version},
                    "<tool_call>\n" + call + "\n</tool_call>",
                    "stop");
            assertTrue(e.apply(g, null, tools, 8, System.nanoTime() + 60_000_000_000L), "turn " + turn + " goes on");
            if (s.afterTurn()) {
                e.stop("deviated");
                return turn;
            }
        }
        return -1;
    }

    static String call(String name, Map<String, String> args) throws Exception {
        return JSON.writeValueAsString(Map.of("name", name, "arguments", args));
    }

    @Test
    void anEpisodeThatNeverWritesTheSolutionIsEndedWithTheVerdictOnItsTrajectory() throws Exception {
        SupervisionRules rules = rules();
        Episode e = Episode.start(task, "t-1", "g", 1);
        try {
            EpisodeSupervision s = new EpisodeSupervision(e, null, rules, registry);
            int stoppedAt = run(e, s, 7, call("read_file", Map.of("path", "notes.txt")));
            assertEquals(4, stoppedAt, "grace 2, then 2 off-track turns");
            s.note();
            Trajectory t = e.trajectory(null);
            assertEquals("deviated", t.getMetadataOrThrow("end_reason"));
            assertEquals("rft-rollout-supervision", t.getMetadataOrThrow("policy_stage"));
            assertEquals("rft-rollout-supervision", t.getMetadataOrThrow("supervision_stage"), "whose rule watched it");
            assertEquals("4", t.getMetadataOrThrow("supervision_turn"));
            assertEquals("12", t.getMetadataOrThrow("supervision_tokens"), "3 tokens a turn, 4 turns");
            assertEquals("3:1.000:9;4:1.000:12", t.getMetadataOrThrow("supervision_trace"));
            assertTrue(
                    t.getMetadataOrThrow("supervision").startsWith("enforced"),
                    t.getMetadataMap().toString());
            assertEquals(
                    1.0, registry.counter("katmesh.rollout.supervision.stopped").count());
            assertEquals(
                    1.0, registry.counter("katmesh.rollout.versions.unreadable").count());
        } finally {
            e.cleanUp();
        }
    }

    @Test
    void anEpisodeThatWritesAReferenceIsNotStoppedAndAVersionWithoutARuleIsNotSupervised() throws Exception {
        SupervisionRules rules = rules();
        String path = task.getTagsOrThrow("solution_path");
        Episode near = Episode.start(task, "t-2", "g", 2);
        Episode unsupervised = Episode.start(task, "t-3", "g", 3);
        try {
            String write = call(
                    "write_file",
                    Map.of("path", path, "content", task.getReferences(1).getContent() + "\n# checked\n"));
            assertEquals(-1, run(near, new EpisodeSupervision(near, null, rules, registry), 7, write));
            EpisodeSupervision none = new EpisodeSupervision(unsupervised, null, rules, registry);
            assertEquals(-1, run(unsupervised, none, 8, call("read_file", Map.of("path", "notes.txt"))));
            none.note();
            Map<String, String> meta = unsupervised.trajectory(null).getMetadataMap();
            assertFalse(meta.containsKey("supervision"), meta.toString());
            assertEquals("rft", meta.get("policy_stage"));
        } finally {
            near.cleanUp();
            unsupervised.cleanUp();
        }
    }
}
