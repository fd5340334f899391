package dev.katmesh.proto.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;

/**
 * The tool-call syntax of Qwen-family chat templates (Hermes style): a call is
 * {@code <tool_call>\n{"name": "...", "arguments": {...}}\n</tool_call>} inside the assistant's text.
 * Parsing turns generated text into OpenAI's shape (content + tool calls); a block that is not a valid
 * call stays in the content and is reported as malformed, so the reward can penalise it.
 */
public final class ToolCallSyntax {

    public static final String OPEN = "<tool_call>";
    public static final String CLOSE = "</tool_call>";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A parsed call: the function name and its arguments as JSON text (an object). */
    public record Call(String name, String argumentsJson) {}

    /** Text split into content (outside well-formed calls, trimmed), calls, and malformed blocks. */
    public record Parsed(String content, List<Call> calls, List<String> malformed) {}

    private ToolCallSyntax() {}

    public static Parsed parse(String text) {
        StringBuilder content = new StringBuilder();
        List<Call> calls = new ArrayList<>();
        List<String> malformed = new ArrayList<>();
        int at = 0;
        while (true) {
            int open = text.indexOf(OPEN, at);
            if (open < 0) {
                content.append(text, at, text.length());
                break;
            }
            int close = text.indexOf(CLOSE, open + OPEN.length());
            if (close < 0) { // cut off (max tokens): not a call
                content.append(text, at, text.length());
                malformed.add(text.substring(open));
                break;
            }
            content.append(text, at, open);
            String body = text.substring(open + OPEN.length(), close).trim();
            Call call = call(body);
            if (call == null) {
                content.append(text, open, close + CLOSE.length());
                malformed.add(body);
            } else {
                calls.add(call);
            }
            at = close + CLOSE.length();
        }
        return new Parsed(content.toString().strip(), List.copyOf(calls), List.copyOf(malformed));
    }

    /**
     * How much of a growing text may be streamed as plain content: everything before the first call
     * opener, holding back a tail that could still become one.
     */
    public static int contentPrefix(String text) {
        int open = text.indexOf(OPEN);
        if (open >= 0) {
            return open;
        }
        for (int keep = Math.min(OPEN.length() - 1, text.length()); keep > 0; keep--) {
            if (OPEN.startsWith(text.substring(text.length() - keep))) {
                return text.length() - keep;
            }
        }
        return text.length();
    }

    private static Call call(String body) {
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null
                    || !n.isObject()
                    || !n.path("name").isTextual()
                    || n.get("name").textValue().isBlank()) {
                return null;
            }
            JsonNode args = n.get("arguments");
            if (args == null || args.isNull()) {
                return new Call(n.get("name").textValue(), "{}");
            }
            if (args.isTextual()) { // some models emit the arguments as a JSON string
                JsonNode inner = JSON.readTree(args.textValue());
                return inner != null && inner.isObject()
                        ? new Call(n.get("name").textValue(), JSON.writeValueAsString(inner))
                        : null;
            }
            return args.isObject() ? new Call(n.get("name").textValue(), JSON.writeValueAsString(args)) : null;
        } catch (Exception e) {
            return null;
        }
    }
}
