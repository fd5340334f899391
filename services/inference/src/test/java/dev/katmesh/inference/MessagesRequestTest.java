package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Anthropic Messages bodies become the conversation the chat template renders, or a 400 naming the field. */
class MessagesRequestTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static MessagesRequest parse(String json) throws Exception {
        return MessagesRequest.parse(JSON.readTree(json));
    }

    static ServingError.ServingException refused(String json) {
        return assertThrows(ServingError.ServingException.class, () -> parse(json), json);
    }

    @Test
    void claudeCodesShapeOfAToolRoundTripBecomesToolCallsAndToolMessages() throws Exception {
        MessagesRequest r = parse("""
                {"model":"m","max_tokens":64,"stream":true,"temperature":0.2,"top_k":5,"stop_sequences":["END"],
                 "metadata":{"user_id":"user_abc_account__session_42"},
                 "system":[{"type":"text","text":"You are Claude Code."},{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
                 "tools":[{"name":"Bash","description":"Run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}],
                 "messages":[
                  {"role":"user","content":"List the files."},
                  {"role":"assistant","content":[{"type":"thinking","thinking":"ls will do","signature":"s"},
                    {"type":"text","text":"Listing."},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},
                  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"a.py"}]},
                    {"type":"text","text":"Count its lines."}]}]}
                """);
        List<ChatMessage> m = r.generation().messages();
        assertEquals(
                List.of("system", "user", "assistant", "tool", "user"),
                m.stream().map(ChatMessage::getRole).toList());
        assertEquals(
                "You are Claude Code.\n\nBe brief.", m.get(0).getContent(), "system blocks joined by a blank line");
        assertEquals("Listing.", m.get(2).getContent());
        assertEquals("ls will do", m.get(2).getReasoningContent(), "thinking becomes the reasoning content");
        assertEquals("{\"command\":\"ls\"}", m.get(2).getToolCalls(0).getArguments(), "tool_use input as JSON text");
        assertEquals("toolu_1", m.get(3).getToolCallId());
        assertEquals("a.py", m.get(3).getContent());
        assertEquals("Count its lines.", m.get(4).getContent(), "the turn's text after its tool results");
        assertEquals("Bash", r.generation().tools().get(0).getName());
        assertTrue(r.generation().toolsEnabled());
        assertTrue(r.generation().stream());
        assertEquals(64, r.generation().maxTokens());
        assertEquals(5, r.generation().topK());
        assertEquals(List.of("END"), r.generation().stop());
        assertEquals("user_abc_account__session_42", r.userId());
    }

    @Test
    void aSystemMessageAmongTheTurnsJoinsTheSystemPrompt() throws Exception {
        MessagesRequest r = parse("""
                {"model":"m","max_tokens":4,"system":"Base.","messages":[
                 {"role":"user","content":[{"type":"text","text":"hi"}]},
                 {"role":"system","content":[{"type":"text","text":"# Environment"}]}]}
                """);
        List<ChatMessage> m = r.generation().messages();
        assertEquals(
                List.of("system", "user"), m.stream().map(ChatMessage::getRole).toList(), "as Claude Code 2.1 sends");
        assertEquals("Base.\n\n# Environment", m.get(0).getContent());
    }

    @Test
    void toolChoiceNoneTurnsToolsOff() throws Exception {
        MessagesRequest r = parse("""
                {"model":"m","max_tokens":4,"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}],
                 "tools":[{"name":"t","input_schema":{"type":"object"}}]}
                """);
        assertFalse(r.generation().toolsEnabled());
    }

    @Test
    void badBodiesAreRefusedNamingTheFieldAsAnthropicNamesIt() {
        assertEquals(
                "max_tokens", refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}").param);
        assertEquals("messages.0.content.0.tool_use_id", refused("""
                        {"model":"m","max_tokens":4,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_x","content":"x"}]}]}
                        """).param);
        assertEquals("messages.0.content.0.type", refused("""
                        {"model":"m","max_tokens":4,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"AA=="}}]}]}
                        """).param, "an image is refused, not dropped");
        assertEquals("tools.0.type", refused("""
                        {"model":"m","max_tokens":4,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}
                        """).param, "a server tool is refused");
        assertEquals(
                "messages.0.role",
                refused("{\"model\":\"m\",\"max_tokens\":4,\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}")
                        .param);
        assertEquals(
                "messages",
                refused("{\"model\":\"m\",\"max_tokens\":4,\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}")
                        .param,
                "system text alone is no conversation");
        assertEquals(
                "temperature",
                refused(
                                "{\"model\":\"m\",\"max_tokens\":4,\"temperature\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")
                        .param,
                "Anthropic's temperature lies in [0, 1]");
        assertEquals("messages", refused("{\"model\":\"m\",\"max_tokens\":4,\"messages\":[]}").param);
    }

    @Test
    void anAnthropicErrorCarriesItsTypeAndTheFieldInTheMessage() {
        ServingError.ServingException e = refused("{\"model\":\"m\",\"max_tokens\":0,\"messages\":[]}");
        var body = ErrorShape.ANTHROPIC.body(e);
        assertEquals("error", body.path("type").asText());
        assertEquals("invalid_request_error", body.at("/error/type").asText());
        assertTrue(body.at("/error/message").asText().startsWith("max_tokens"), body.toString());
        assertEquals(
                529, ErrorShape.ANTHROPIC.status(ServingError.OVERLOADED), "a full queue is Anthropic's overloaded");
    }
}
