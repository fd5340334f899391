package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
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

    static final String MARK = "CONTENT_MARK";
    /** Tool schemas and tool-call arguments go through tojson, so their text is the content's JSON string form. */
    static final String TOOL_MARK = "TOOL_MARK";

    @Test
    void contentToolsAndArgumentsRenderVerbatimInTheFixturesAndTheMainJobsTemplates() throws Exception {
        List<Path> templates = List.of(
                Fixture.DIR.resolve("chat_template.jinja"),
                Path.of("../launcher/src/main/resources/model/chat_template.jinja"));
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
