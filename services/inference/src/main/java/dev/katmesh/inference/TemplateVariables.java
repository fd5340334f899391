package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A request's extra chat-template variables: {@code chat_template_kwargs}, the field vLLM and SGLang take for them
 * (Qwen3's {@code enable_thinking}, for one), on every protocol, and the protocols' own switches for thinking
 * (Anthropic's {@code thinking}, OpenAI Responses' {@code reasoning.effort}) as {@code enable_thinking}. The
 * template sees them beside messages and tools, which no request may replace.
 */
final class TemplateVariables {

    static final String FIELD = "chat_template_kwargs";
    static final String ENABLE_THINKING = "enable_thinking";
    /** What the renderer itself sets: a request that names one is refused, not silently overridden. */
    private static final Set<String> RESERVED = Set.of("messages", "tools", "add_generation_prompt");
    /** Bounds what one request can make the template hold. */
    private static final int MAX_VARIABLES = 32;

    private static final ObjectMapper JSON = new ObjectMapper();

    private TemplateVariables() {}

    /** The JSON object of {@code chat_template_kwargs} (absent or null: none). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> parse(JsonNode node) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw ServingError.INVALID_REQUEST.with(FIELD + " must be an object of template variables", FIELD);
        }
        return checked(JSON.convertValue(node, LinkedHashMap.class));
    }

    /** The gRPC form: a google.protobuf.Struct. */
    static Map<String, Object> of(Struct struct) {
        Map<String, Object> out = new LinkedHashMap<>();
        struct.getFieldsMap().forEach((k, v) -> out.put(k, value(v)));
        return checked(out);
    }

    /**
     * {@code variables} with enable_thinking set from a protocol's own switch ({@code null}: the request has none),
     * unless chat_template_kwargs already says it.
     */
    static Map<String, Object> withThinking(Map<String, Object> variables, Boolean thinking) {
        if (thinking == null || variables.containsKey(ENABLE_THINKING)) {
            return variables;
        }
        Map<String, Object> out = new HashMap<>(variables);
        out.put(ENABLE_THINKING, thinking);
        return Map.copyOf(out);
    }

    private static Map<String, Object> checked(Map<String, Object> variables) {
        if (variables.size() > MAX_VARIABLES) {
            throw ServingError.INVALID_REQUEST.with(
                    FIELD + " holds " + variables.size() + " variables; at most " + MAX_VARIABLES, FIELD);
        }
        for (String k : variables.keySet()) {
            if (RESERVED.contains(k)) {
                throw ServingError.INVALID_REQUEST.with(
                        FIELD + " may not set '" + k + "': the request's own fields say it", FIELD + "." + k);
            }
        }
        return variables;
    }

    private static Object value(Value v) {
        return switch (v.getKindCase()) {
            case BOOL_VALUE -> v.getBoolValue();
            case STRING_VALUE -> v.getStringValue();
            case NUMBER_VALUE -> number(v.getNumberValue());
            case STRUCT_VALUE -> {
                Map<String, Object> m = new LinkedHashMap<>();
                v.getStructValue().getFieldsMap().forEach((k, x) -> m.put(k, value(x)));
                yield m;
            }
            case LIST_VALUE -> list(v.getListValue());
            default -> null;
        };
    }

    private static List<Object> list(ListValue l) {
        List<Object> out = new ArrayList<>();
        l.getValuesList().forEach(x -> out.add(value(x)));
        return out;
    }

    /** Struct numbers are doubles; a whole one is the integer JSON would have carried. */
    private static Object number(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? (Object) (long) d : (Object) d;
    }
}
