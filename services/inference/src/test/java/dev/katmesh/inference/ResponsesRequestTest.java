package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** OpenAI Responses bodies become the conversation the chat template renders, or a 400 naming the field. */
class ResponsesRequestTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final List<ChatMessage> EARLIER = List.of(
            ChatMessage.newBuilder().setRole("user").setContent("Earlier.").build(),
            ChatMessage.newBuilder().setRole("assistant").setContent("Noted.").build());

    static ResponsesRequest parse(String json) throws Exception {
        return ResponsesRequest.parse(JSON.readTree(json), 512, id -> {
            if (!id.equals("resp_1")) {
                throw ServingError.NOT_FOUND.with("no " + id, "previous_response_id");
            }
            return EARLIER;
        });
    }

    static ServingError.ServingException refused(String json) {
        return assertThrows(ServingError.ServingException.class, () -> parse(json), json);
    }

    @Test
    void codexsItemsBecomeAConversation() throws Exception {
        ResponsesRequest r = parse("""
                {"model":"m","instructions":"You are Codex.","stream":true,"store":false,"prompt_cache_key":"sess-9",
                 "tools":[{"type":"function","name":"shell","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}},
                          {"type":"custom","name":"apply_patch","description":"Patch","format":{"type":"grammar"}}],
                 "input":[
                  {"type":"message","role":"developer","content":[{"type":"input_text","text":"Sandbox: none."}]},
                  {"type":"message","role":"user","content":[{"type":"input_text","text":"Fix it."}]},
                  {"type":"reasoning","summary":[{"type":"summary_text","text":"look first"}],"encrypted_content":"x"},
                  {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Looking."}]},
                  {"type":"function_call","call_id":"c1","name":"shell","arguments":"{\\"cmd\\":\\"ls\\"}"},
                  {"type":"function_call_output","call_id":"c1","output":"a.py"},
                  {"type":"custom_tool_call","call_id":"c2","name":"apply_patch","input":"*** Begin Patch"},
                  {"type":"custom_tool_call_output","call_id":"c2","output":"Done"}]}
                """);
        List<ChatMessage> m = r.generation().messages();
        assertEquals(
                List.of("system", "user", "assistant", "tool", "assistant", "tool"),
                m.stream().map(ChatMessage::getRole).toList());
        assertEquals(
                "You are Codex.\n\nSandbox: none.",
                m.get(0).getContent(),
                "instructions first, then the developer message (system text), as one system message");
        assertEquals("Looking.", m.get(2).getContent());
        assertEquals("look first", m.get(2).getReasoningContent(), "a reasoning item's summary");
        assertEquals("shell", m.get(2).getToolCalls(0).getName(), "a function_call joins the assistant message");
        assertEquals("{\"input\":\"*** Begin Patch\"}", m.get(4).getToolCalls(0).getArguments(), "custom input");
        assertEquals("system", r.items().get(0).getRole(), "items leave the instructions out, not the developer's");
        assertEquals(6, r.items().size());
        assertEquals(Set.of("apply_patch"), r.customTools());
        assertEquals(
                ResponsesRequest.CUSTOM_SCHEMA, r.generation().tools().get(1).getParametersJson());
        assertFalse(r.store());
        assertEquals("sess-9", r.promptCacheKey());
        assertEquals(512, r.generation().maxTokens(), "the server's default when max_output_tokens is unset");
    }

    @Test
    void codexsToolsAreOfferedAsFunctionsAndHostedOnesListedAsNotOffered() throws Exception {
        ResponsesRequest r = parse("""
                {"model":"m","input":"x","tools":[
                 {"type":"function","name":"exec_command","parameters":{"type":"object"}},
                 {"type":"namespace","name":"multi_agent_v1","description":"Sub-agents","tools":[
                   {"type":"function","name":"spawn_agent","parameters":{"type":"object"}}]},
                 {"type":"web_search","external_web_access":false}]}
                """);
        assertEquals(
                List.of("exec_command", "spawn_agent"),
                r.generation().tools().stream().map(t -> t.getName()).toList(),
                "a namespace's tools are offered as functions");
        assertEquals(List.of("web_search"), r.toolsNotOffered(), "a hosted tool this server cannot run is listed");
    }

    @Test
    void previousResponseIdContinuesTheStoredConversation() throws Exception {
        ResponsesRequest r = parse("{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":\"And now?\"}");
        assertEquals(
                List.of("Earlier.", "Noted.", "And now?"),
                r.generation().messages().stream().map(ChatMessage::getContent).toList());
        assertTrue(r.store(), "store defaults to true");
        assertEquals(
                "previous_response_id",
                refused("{\"model\":\"m\",\"previous_response_id\":\"resp_2\",\"input\":\"x\"}").param);
    }

    @Test
    void badBodiesAreRefusedNamingTheField() {
        assertEquals("input", refused("{\"model\":\"m\"}").param);
        assertEquals(
                "input[0].call_id",
                refused(
                                "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"x\",\"output\":\"y\"}]}")
                        .param);
        assertEquals(
                "input[0].content[0].type",
                refused(
                                "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"u\"}]}]}")
                        .param,
                "an image is refused, not dropped");
        assertEquals(
                "tools[0].type",
                refused("{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"teleport\",\"name\":\"w\"}]}").param);
        assertEquals("conversation", refused("{\"model\":\"m\",\"input\":\"x\",\"conversation\":\"conv_1\"}").param);
        assertEquals(
                "text.format",
                refused("{\"model\":\"m\",\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\"}}}").param);
        assertEquals("max_output_tokens", refused("{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":0}").param);
    }
}
