package dev.katmesh.proto.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.ToolCall;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** ATIF-v1.7: what katmesh writes passes the format's rules, comes back field by field, and others' files read. */
class AtifJsonTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** ATIF-v1.7's key sets (Harbor's validator refuses any other key). */
    static final Set<String> ROOT = Set.of(
            "schema_version",
            "session_id",
            "trajectory_id",
            "agent",
            "steps",
            "notes",
            "final_metrics",
            "continued_trajectory_ref",
            "extra",
            "subagent_trajectories");

    static final Set<String> AGENT = Set.of("name", "version", "model_name", "tool_definitions", "extra");
    static final Set<String> STEP = Set.of(
            "step_id",
            "timestamp",
            "source",
            "model_name",
            "reasoning_effort",
            "message",
            "reasoning_content",
            "tool_calls",
            "observation",
            "metrics",
            "is_copied_context",
            "llm_call_count",
            "extra");
    static final Set<String> TOOL_CALL = Set.of("tool_call_id", "function_name", "arguments", "extra");
    static final Set<String> RESULT = Set.of("source_call_id", "content", "subagent_trajectory_ref", "extra");
    static final Set<String> METRICS = Set.of(
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "cost_usd",
            "prompt_token_ids",
            "completion_token_ids",
            "logprobs",
            "extra");
    static final Set<String> FINAL_METRICS = Set.of(
            "total_prompt_tokens",
            "total_completion_tokens",
            "total_cached_tokens",
            "total_cost_usd",
            "total_steps",
            "extra");

    /** ATIF-v1.7's rules, as Harbor's validator states them (keys, required fields, step order, references). */
    static List<String> violations(JsonNode t) {
        List<String> out = new ArrayList<>();
        keys(t, ROOT, "$", out);
        if (!t.path("schema_version").asText().equals("ATIF-v1.7")) {
            out.add("$.schema_version");
        }
        keys(t.path("agent"), AGENT, "$.agent", out);
        if (!t.path("agent").path("name").isTextual()
                || !t.path("agent").path("version").isTextual()) {
            out.add("$.agent: name and version are required strings");
        }
        if (!t.path("steps").isArray() || t.path("steps").isEmpty()) {
            out.add("$.steps: required, not empty");
        }
        for (int i = 0; i < t.path("steps").size(); i++) {
            JsonNode s = t.path("steps").get(i);
            String p = "$.steps[" + i + "]";
            keys(s, STEP, p, out);
            if (s.path("step_id").asInt() != i + 1) {
                out.add(p + ".step_id: expected " + (i + 1));
            }
            String source = s.path("source").asText();
            if (!Set.of("system", "user", "agent").contains(source)) {
                out.add(p + ".source");
            }
            if (!s.path("message").isTextual()) {
                out.add(p + ".message: required string");
            }
            for (String agentOnly :
                    List.of("model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics")) {
                if (!source.equals("agent") && s.has(agentOnly)) {
                    out.add(p + "." + agentOnly + ": agent-only");
                }
            }
            Set<String> ids = new HashSet<>();
            for (JsonNode c : s.path("tool_calls")) {
                keys(c, TOOL_CALL, p + ".tool_calls[]", out);
                if (!c.path("tool_call_id").isTextual()
                        || !ids.add(c.path("tool_call_id").asText())) {
                    out.add(p + ".tool_calls[].tool_call_id: required, unique");
                }
                if (!c.path("function_name").isTextual() || !c.path("arguments").isObject()) {
                    out.add(p + ".tool_calls[]: function_name string, arguments object");
                }
            }
            if (s.has("observation")) {
                keys(s.get("observation"), Set.of("results"), p + ".observation", out);
                for (JsonNode r : s.path("observation").path("results")) {
                    keys(r, RESULT, p + ".observation.results[]", out);
                    if (r.has("source_call_id")
                            && !ids.contains(r.path("source_call_id").asText())) {
                        out.add(p + ".observation.results[].source_call_id: names no call of the step");
                    }
                }
            }
            if (s.has("metrics")) {
                keys(s.get("metrics"), METRICS, p + ".metrics", out);
                JsonNode m = s.get("metrics");
                if (m.has("logprobs")
                        && m.path("logprobs").size()
                                != m.path("completion_token_ids").size()) {
                    out.add(p + ".metrics: logprobs align with completion_token_ids");
                }
            }
        }
        keys(t.path("final_metrics"), FINAL_METRICS, "$.final_metrics", out);
        return out;
    }

    static void keys(JsonNode o, Set<String> allowed, String path, List<String> out) {
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                out.add(path + "." + k + ": not an ATIF-v1.7 field");
            }
        }
    }

    @Test
    void whatKatmeshWritesFollowsAtifV17() throws Exception {
        JsonNode t = JSON.readTree(AtifJson.write(ScoredJsonTest.full()));
        assertEquals(List.of(), violations(t), t.toPrettyString());
        JsonNode steps = t.path("steps");
        assertEquals(4, steps.size(), "system, user, agent (with its tool result), agent: " + steps);
        assertEquals("agent", steps.get(2).path("source").asText());
        assertEquals(
                "cat a.py",
                steps.get(2)
                        .path("tool_calls")
                        .get(0)
                        .path("arguments")
                        .path("cmd")
                        .asText());
        assertEquals(
                "call_1",
                steps.get(2)
                        .path("observation")
                        .path("results")
                        .get(0)
                        .path("source_call_id")
                        .asText());
        assertEquals(
                "[151643,4294967295]",
                steps.get(2).path("metrics").path("completion_token_ids").toString());
        assertEquals(-0.25, steps.get(2).path("metrics").path("logprobs").get(0).asDouble(), 1e-7);
        assertEquals(3, steps.get(2).path("metrics").path("prompt_tokens").asInt(), "tokens before the generation");
        assertEquals(0.61, t.path("extra").path("katmesh").path("reward").asDouble(), "the reward in extra");
        assertEquals(
                "bash",
                t.path("agent")
                        .path("tool_definitions")
                        .get(0)
                        .path("function")
                        .path("name")
                        .asText());
    }

    @Test
    void aScoredTrajectoryComesBackFieldByField() throws Exception {
        ScoredTrajectory s = ScoredJsonTest.full();
        ScoredJsonTest.assertFieldByField(s, AtifJson.read(AtifJson.write(s)), "");
    }

    @Test
    void argumentsThatAreNotACompactJsonObjectAndOddRolesSurviveTheTrip() throws Exception {
        ScoredTrajectory s = ScoredJsonTest.full();
        var t = s.getTrajectory().toBuilder();
        t.setMessages(
                2,
                t.getMessages(2).toBuilder()
                        .setToolCalls(
                                0,
                                ToolCall.newBuilder()
                                        .setId("call_1")
                                        .setType("function")
                                        .setName("bash")
                                        .setArguments("{ \"cmd\": \"cat a.py\" }"))
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("call_2")
                                .setType("custom")
                                .setName("patch")
                                .setArguments("*** Begin Patch")));
        t.addMessages(
                1, ChatMessage.newBuilder().setRole("developer").setName("ops").setContent("Be brief."));
        ScoredTrajectory odd = s.toBuilder().setTrajectory(t).build();
        JsonNode atif = JSON.readTree(AtifJson.write(odd));
        assertEquals(List.of(), violations(atif), atif.toPrettyString());
        ScoredJsonTest.assertFieldByField(odd, AtifJson.read(atif), "");
    }

    @Test
    void anotherStacksFileReadsAsMessagesWithoutAReward() throws Exception {
        String harbor = """
                {"schema_version":"ATIF-v1.7","session_id":"s-9","agent":{"name":"terminus-2","version":"2.0.0",
                 "model_name":"qwen3-coder"},
                 "steps":[
                  {"step_id":1,"source":"system","message":"You are an agent."},
                  {"step_id":2,"source":"user","message":[{"type":"text","text":"Fix it"},{"type":"text","text":"now"}]},
                  {"step_id":3,"source":"user","message":"old context","is_copied_context":true},
                  {"step_id":4,"source":"agent","message":"","reasoning_content":"look first",
                   "tool_calls":[{"tool_call_id":"c1","function_name":"bash","arguments":{"keystrokes":"ls\\n"}}],
                   "observation":{"results":[{"source_call_id":"c1","content":"a.py"}]},
                   "metrics":{"prompt_tokens":40,"completion_tokens":3}},
                  {"step_id":5,"source":"agent","message":"Done.","llm_call_count":1}]}
                """;
        JsonNode node = JSON.readTree(harbor);
        assertTrue(AtifJson.isAtif(node));
        assertFalse(ScoredJson.isScored(node));
        ScoredTrajectory s = AtifJson.read(node);
        assertEquals("s-9", s.getTrajectory().getTrajectoryId());
        assertEquals("terminus-2", s.getTrajectory().getAgentId());
        assertEquals("qwen3-coder", s.getTrajectory().getModel());
        assertTrue(s.getTaskless(), "no verified evidence: no reward");
        List<String> roles = s.getTrajectory().getMessagesList().stream()
                .map(ChatMessage::getRole)
                .toList();
        assertEquals(
                List.of("system", "user", "assistant", "tool", "assistant"), roles, "the copied context is skipped");
        assertEquals("Fix it\nnow", s.getTrajectory().getMessages(1).getContent());
        assertEquals(
                "{\"keystrokes\":\"ls\\n\"}",
                s.getTrajectory().getMessages(2).getToolCalls(0).getArguments());
        assertEquals("c1", s.getTrajectory().getMessages(3).getToolCallId());
    }
}
