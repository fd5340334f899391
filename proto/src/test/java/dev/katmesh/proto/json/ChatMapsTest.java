package dev.katmesh.proto.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Template inputs keep OpenAI's key order in every JVM: the learner and inference render alike. */
class ChatMapsTest {

    @Test
    void keysKeepTheOpenAiOrder() {
        Map<String, Object> tool = ChatMaps.tools(List.of(ToolSchema.newBuilder()
                        .setName("bash")
                        .setDescription("d")
                        .setParametersJson("{\"type\":\"object\"}")
                        .build()))
                .get(0);
        assertEquals(List.of("type", "function"), List.copyOf(tool.keySet()));
        assertEquals(
                List.of("name", "description", "parameters"), List.copyOf(((Map<?, ?>) tool.get("function")).keySet()));
        Map<String, Object> m = ChatMaps.message(ChatMessage.newBuilder()
                .setRole("assistant")
                .addToolCalls(ToolCall.newBuilder().setId("c1").setName("bash").setArguments("{\"command\":\"ls\"}"))
                .build());
        Map<?, ?> call = (Map<?, ?>) ((List<?>) m.get("tool_calls")).get(0);
        assertEquals(List.of("id", "type", "function"), List.copyOf(call.keySet()));
        assertEquals(List.of("name", "arguments"), List.copyOf(((Map<?, ?>) call.get("function")).keySet()));
    }
}
