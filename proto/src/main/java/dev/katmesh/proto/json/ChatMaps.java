package dev.katmesh.proto.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Messages and tools as a chat template takes them (the maps transformers passes to Jinja): tool-call
 * arguments and tool parameters become JSON values again, as Hugging Face templates expect dicts.
 *
 * <p>Every map keeps the OpenAI key order (insertion-ordered maps, never {@code Map.of}, whose order
 * changes from one JVM to the next): templates serialise tools with {@code tojson}, and the learner
 * and inference must render the same conversation to the same tokens.
 */
public final class ChatMaps {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ChatMaps() {}

    public static List<Map<String, Object>> messages(List<ChatMessage> messages) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ChatMessage m : messages) {
            out.add(message(m));
        }
        return out;
    }

    public static List<Map<String, Object>> tools(List<ToolSchema> tools) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ToolSchema s : tools) {
            Map<String, Object> fn = new LinkedHashMap<>();
            fn.put("name", s.getName());
            fn.put("description", s.getDescription());
            fn.put("parameters", parse(s.getParametersJson()));
            out.add(ordered("type", "function", "function", fn));
        }
        return out;
    }

    public static Map<String, Object> message(ChatMessage m) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("role", m.getRole());
        out.put("content", m.getContent());
        if (m.getToolCallsCount() > 0) {
            List<Map<String, Object>> calls = new ArrayList<>();
            for (ToolCall c : m.getToolCallsList()) {
                calls.add(ordered(
                        "id",
                        c.getId(),
                        "type",
                        "function",
                        "function",
                        ordered("name", c.getName(), "arguments", parse(c.getArguments()))));
            }
            out.put("tool_calls", calls);
        }
        if (!m.getToolCallId().isEmpty()) {
            out.put("tool_call_id", m.getToolCallId());
        }
        if (!m.getReasoningContent().isEmpty()) {
            out.put("reasoning_content", m.getReasoningContent());
        }
        return out;
    }

    /** A map of the given key/value pairs, in that order. */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /** JSON text as a value (a dict for the template); text that is not JSON stays text. */
    private static Object parse(String json) {
        if (json.isEmpty()) {
            return Map.of();
        }
        try {
            return JSON.readValue(json, Object.class);
        } catch (Exception e) {
            return json;
        }
    }
}
