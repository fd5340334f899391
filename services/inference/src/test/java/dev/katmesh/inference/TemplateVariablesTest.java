package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** chat_template_kwargs and the protocols' thinking switches, as the template variables a request renders with. */
class TemplateVariablesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String USER = "[{\"role\":\"user\",\"content\":\"hi\"}]";

    static GenerationRequest chat(String extra) throws Exception {
        return GenerationRequest.chat(JSON.readTree("{\"model\":\"m\",\"messages\":" + USER + extra + "}"), 16, 4);
    }

    static Map<String, Object> messages(String extra) throws Exception {
        return MessagesRequest.parse(
                        JSON.readTree("{\"model\":\"m\",\"max_tokens\":8,\"messages\":" + USER + extra + "}"))
                .generation()
                .templateVariables();
    }

    static Map<String, Object> responses(String extra) throws Exception {
        return ResponsesRequestTest.parse("{\"model\":\"m\",\"input\":\"hi\"" + extra + "}")
                .generation()
                .templateVariables();
    }

    @Test
    void chatCompletionsPassTheirKwargsToTheTemplate() throws Exception {
        assertEquals(Map.of(), chat("").templateVariables(), "none given, none set");
        assertEquals(
                Map.of("enable_thinking", false, "tags", List.of(1, 2)),
                chat(",\"chat_template_kwargs\":{\"enable_thinking\":false,\"tags\":[1,2]}")
                        .templateVariables());
    }

    @Test
    void kwargsThatReplaceTheRequestsOwnFieldsOrAreNotAnObjectAreRefusedNamingThem() {
        ServingError.ServingException reserved = assertThrows(
                ServingError.ServingException.class, () -> chat(",\"chat_template_kwargs\":{\"messages\":[]}"));
        assertEquals("chat_template_kwargs.messages", reserved.param, reserved.getMessage());
        ServingError.ServingException notObject =
                assertThrows(ServingError.ServingException.class, () -> chat(",\"chat_template_kwargs\":true"));
        assertEquals("chat_template_kwargs", notObject.param, notObject.getMessage());
        assertTrue(notObject.getMessage().contains("object"), notObject.getMessage());
    }

    @Test
    void anthropicThinkingIsEnableThinkingUnlessTheKwargsSayIt() throws Exception {
        assertEquals(Map.of(), messages(""));
        assertEquals(Map.of("enable_thinking", false), messages(",\"thinking\":{\"type\":\"disabled\"}"));
        assertEquals(
                Map.of("enable_thinking", true),
                messages(",\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024}"));
        assertEquals(
                Map.of("enable_thinking", true),
                messages(",\"thinking\":{\"type\":\"disabled\"},\"chat_template_kwargs\":{\"enable_thinking\":true}"),
                "the explicit kwarg wins");
        assertThrows(ServingError.ServingException.class, () -> messages(",\"thinking\":{\"type\":\"maybe\"}"));
    }

    @Test
    void responsesReasoningEffortNoneTurnsThinkingOff() throws Exception {
        assertEquals(Map.of(), responses(""));
        assertEquals(Map.of("enable_thinking", false), responses(",\"reasoning\":{\"effort\":\"none\"}"));
        assertEquals(Map.of("enable_thinking", true), responses(",\"reasoning\":{\"effort\":\"high\"}"));
        ServingError.ServingException bad = assertThrows(
                ServingError.ServingException.class, () -> responses(",\"reasoning\":{\"effort\":\"huge\"}"));
        assertEquals("reasoning.effort", bad.param, bad.getMessage());
    }

    @Test
    void aGrpcStructBecomesTheValuesJsonWouldHaveGiven() {
        Struct s = Struct.newBuilder()
                .putFields(
                        "enable_thinking",
                        Value.newBuilder().setBoolValue(false).build())
                .putFields("depth", Value.newBuilder().setNumberValue(3).build())
                .putFields("ratio", Value.newBuilder().setNumberValue(0.5).build())
                .putFields(
                        "names",
                        Value.newBuilder()
                                .setListValue(ListValue.newBuilder()
                                        .addValues(Value.newBuilder().setStringValue("a")))
                                .build())
                .build();
        assertEquals(
                Map.of("enable_thinking", false, "depth", 3L, "ratio", 0.5, "names", List.of("a")),
                TemplateVariables.of(s));
        Struct reserved = Struct.newBuilder()
                .putFields(
                        "add_generation_prompt",
                        Value.newBuilder().setBoolValue(false).build())
                .build();
        assertThrows(ServingError.ServingException.class, () -> TemplateVariables.of(reserved));
    }
}
