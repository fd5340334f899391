package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An Anthropic Messages request ({@code POST /v1/messages}) translated into the conversation the chat template
 * renders: {@code system} (a string or text blocks) becomes the system message; a user turn's
 * {@code tool_result} blocks become tool messages (in order, before the turn's text), its text blocks one user
 * message; an assistant turn's {@code tool_use} blocks become its tool calls (the input as JSON text) and
 * {@code thinking} blocks its reasoning content; a {@code system} message among the turns (Claude Code 2.1's
 * environment) is system text, appended to the system prompt. Fields are validated with Anthropic's names
 * ({@code messages.2.content.0.tool_use_id}); images and server tools are refused, not silently dropped.
 */
record MessagesRequest(GenerationRequest generation, String userId) {

    static final int MAX_STOPS = 16;

    /** A generation request: {@code max_tokens} is required, as Anthropic's API requires it. */
    static MessagesRequest parse(JsonNode body) {
        ObjectNode o = GenerationRequest.object(body);
        if (o.get("max_tokens") == null || o.get("max_tokens").isNull()) {
            throw ServingError.INVALID_REQUEST.with("max_tokens: Field required", "max_tokens");
        }
        return translate(o, GenerationRequest.positive(o, "max_tokens", 1));
    }

    /** A {@code count_tokens} request: the same conversation, no sampling fields. */
    static MessagesRequest countable(JsonNode body) {
        return translate(GenerationRequest.object(body), 1);
    }

    private static MessagesRequest translate(ObjectNode o, int maxTokens) {
        String model = GenerationRequest.model(o);
        List<ToolSchema> tools = tools(o.get("tools"));
        boolean toolsEnabled = toolChoice(o.get("tool_choice"), tools);
        List<ChatMessage> messages = new ArrayList<>();
        String system = system(o.get("system"), "system");
        if (!system.isEmpty()) {
            messages.add(ChatMessage.newBuilder()
                    .setRole("system")
                    .setContent(system)
                    .build());
        }
        JsonNode turns = o.get("messages");
        if (turns == null || !turns.isArray() || turns.isEmpty()) {
            throw ServingError.INVALID_REQUEST.with("messages: must be a non-empty array of messages", "messages");
        }
        Set<String> callIds = new HashSet<>();
        List<String> laterSystem = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            JsonNode m = turns.get(i);
            if (m != null && m.path("role").asText("").equals("system")) {
                // Claude Code 2.1 sends its environment as a system message among the turns: system text, kept in
                // the system prompt (in order), where every chat template renders it.
                laterSystem.add(system(m.get("content"), "messages." + i + ".content"));
                continue;
            }
            turn(m, "messages." + i, callIds, messages);
        }
        if (messages.isEmpty() || messages.stream().allMatch(x -> x.getRole().equals("system"))) {
            throw invalid("messages", "must hold at least one user or assistant message");
        }
        if (!laterSystem.isEmpty()) {
            List<String> parts = new ArrayList<>();
            if (!system.isEmpty()) {
                parts.add(system);
            }
            parts.addAll(laterSystem);
            ChatMessage joined = ChatMessage.newBuilder()
                    .setRole("system")
                    .setContent(String.join("\n\n", parts))
                    .build();
            if (system.isEmpty()) {
                messages.add(0, joined);
            } else {
                messages.set(0, joined);
            }
        }
        JsonNode metadata = o.get("metadata");
        String userId = metadata != null && metadata.path("user_id").isTextual()
                ? metadata.path("user_id").textValue()
                : null;
        GenerationRequest g = GenerationRequest.conversation(
                model,
                messages,
                tools,
                toolsEnabled,
                TemplateVariables.withThinking(
                        TemplateVariables.parse(o.get(TemplateVariables.FIELD)), thinking(o.get("thinking"))),
                maxTokens,
                GenerationRequest.number(o, "temperature", 1f, 0f, 1f),
                topP(o),
                topK(o),
                stops(o.get("stop_sequences")),
                GenerationRequest.bool(o, "stream"),
                "messages");
        return new MessagesRequest(g, userId);
    }

    /** The request's thinking switch as the template's enable_thinking ({@code null}: the request has none). */
    private static Boolean thinking(JsonNode thinking) {
        if (thinking == null || thinking.isNull()) {
            return null;
        }
        return switch (thinking.path("type").asText("")) {
            case "enabled", "adaptive" -> true;
            case "disabled" -> false;
            default -> throw invalid("thinking.type", "must be enabled, adaptive or disabled");
        };
    }

    private static void turn(JsonNode m, String at, Set<String> callIds, List<ChatMessage> out) {
        if (m == null || !m.isObject()) {
            throw invalid(at, "must be an object with role and content");
        }
        String role = m.path("role").asText("");
        if (!role.equals("user") && !role.equals("assistant")) {
            throw invalid(at + ".role", "must be \"user\" or \"assistant\", got " + m.get("role"));
        }
        JsonNode content = m.get("content");
        if (content != null && content.isTextual()) {
            out.add(ChatMessage.newBuilder()
                    .setRole(role)
                    .setContent(content.textValue())
                    .build());
            return;
        }
        if (content == null || !content.isArray()) {
            throw invalid(at + ".content", "must be a string or an array of content blocks");
        }
        StringBuilder text = new StringBuilder();
        StringBuilder thinking = new StringBuilder();
        ChatMessage.Builder assistant = ChatMessage.newBuilder().setRole("assistant");
        for (int b = 0; b < content.size(); b++) {
            JsonNode block = content.get(b);
            String where = at + ".content." + b;
            String type = block.path("type").asText("");
            switch (type) {
                case "text" -> text.append(string(block, "text", where));
                case "thinking" -> thinking.append(block.path("thinking").asText(""));
                case "redacted_thinking" -> {} // encrypted by its maker: nothing a template can render
                case "tool_use" -> {
                    requireRole(role, "assistant", where, type);
                    String id = string(block, "id", where);
                    if (!callIds.add(id)) {
                        throw invalid(where + ".id", "tool_use id '" + id + "' is used twice");
                    }
                    JsonNode input = block.get("input");
                    if (input == null || !input.isObject()) {
                        throw invalid(where + ".input", "must be an object");
                    }
                    assistant.addToolCalls(ToolCall.newBuilder()
                            .setId(id)
                            .setType("function")
                            .setName(string(block, "name", where))
                            .setArguments(input.toString()));
                }
                case "tool_result" -> {
                    requireRole(role, "user", where, type);
                    String id = string(block, "tool_use_id", where);
                    if (!callIds.contains(id)) {
                        throw invalid(where + ".tool_use_id", "no earlier tool_use block has id '" + id + "'");
                    }
                    out.add(ChatMessage.newBuilder()
                            .setRole("tool")
                            .setToolCallId(id)
                            .setContent(toolResult(block.get("content"), where + ".content"))
                            .build());
                }
                case "image", "document", "search_result" ->
                    throw invalid(where + ".type", "'" + type + "' content is not supported by this model (text only)");
                default -> throw invalid(where + ".type", "unknown content block type '" + type + "'");
            }
        }
        if (role.equals("assistant")) {
            out.add(assistant
                    .setContent(text.toString())
                    .setReasoningContent(thinking.toString())
                    .build());
        } else if (!text.isEmpty() || content.isEmpty()) {
            out.add(ChatMessage.newBuilder()
                    .setRole("user")
                    .setContent(text.toString())
                    .build());
        }
    }

    /** A tool result's content: a string, or text blocks joined (an image in a result is refused). */
    private static String toolResult(JsonNode content, String at) {
        if (content == null || content.isNull()) {
            return "";
        }
        if (content.isTextual()) {
            return content.textValue();
        }
        if (!content.isArray()) {
            throw invalid(at, "must be a string or an array of text blocks");
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            JsonNode block = content.get(i);
            if (!block.path("type").asText("").equals("text")) {
                throw invalid(at + "." + i + ".type", "only text blocks are supported in a tool result");
            }
            s.append(s.isEmpty() ? "" : "\n").append(string(block, "text", at + "." + i));
        }
        return s.toString();
    }

    /** System text ({@code system}, or a system message's content): a string, or text blocks joined by blank lines. */
    private static String system(JsonNode system, String at) {
        if (system == null || system.isNull()) {
            return "";
        }
        if (system.isTextual()) {
            return system.textValue();
        }
        if (!system.isArray()) {
            throw invalid(at, "must be a string or an array of text blocks");
        }
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < system.size(); i++) {
            JsonNode block = system.get(i);
            if (!block.path("type").asText("").equals("text")) {
                throw invalid(at + "." + i + ".type", "only text blocks are supported in system text");
            }
            parts.add(string(block, "text", at + "." + i));
        }
        return String.join("\n\n", parts);
    }

    /** Client tools ({@code name}, {@code description}, {@code input_schema}); server tools are refused. */
    private static List<ToolSchema> tools(JsonNode tools) {
        if (tools == null || tools.isNull()) {
            return List.of();
        }
        if (!tools.isArray()) {
            throw invalid("tools", "must be an array of tools");
        }
        List<ToolSchema> out = new ArrayList<>();
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String at = "tools." + i;
            String type = t.path("type").asText("custom");
            if (!type.equals("custom")) {
                throw invalid(at + ".type", "server tool '" + type + "' is not supported (define it as a client tool)");
            }
            JsonNode schema = t.get("input_schema");
            if (schema == null || !schema.isObject()) {
                throw invalid(at + ".input_schema", "must be a JSON Schema object");
            }
            out.add(ToolSchema.newBuilder()
                    .setType("function")
                    .setName(string(t, "name", at))
                    .setDescription(t.path("description").asText(""))
                    .setParametersJson(schema.toString())
                    .build());
        }
        return out;
    }

    /** Whether the model may call tools: {@code none} turns them off; a named tool must exist. */
    private static boolean toolChoice(JsonNode choice, List<ToolSchema> tools) {
        if (choice == null || choice.isNull()) {
            return true;
        }
        String type = choice.path("type").asText("");
        switch (type) {
            case "auto", "any" -> {
                return true;
            }
            case "none" -> {
                return false;
            }
            case "tool" -> {
                String name = choice.path("name").asText("");
                if (tools.stream().noneMatch(t -> t.getName().equals(name))) {
                    throw invalid("tool_choice.name", "names tool '" + name + "', which is not among the tools");
                }
                return true;
            }
            default -> throw invalid("tool_choice.type", "must be one of auto, any, tool, none");
        }
    }

    private static List<String> stops(JsonNode n) {
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (!n.isArray() || n.size() > MAX_STOPS) {
            throw invalid("stop_sequences", "must be an array of at most " + MAX_STOPS + " strings");
        }
        for (int i = 0; i < n.size(); i++) {
            if (!n.get(i).isTextual() || n.get(i).textValue().isEmpty()) {
                throw invalid("stop_sequences." + i, "must be a non-empty string");
            }
            out.add(n.get(i).textValue());
        }
        return out;
    }

    private static float topP(ObjectNode o) {
        float p = GenerationRequest.number(o, "top_p", 1f, 0f, 1f);
        if (p == 0) {
            throw invalid("top_p", "must lie in (0, 1]");
        }
        return p;
    }

    private static int topK(ObjectNode o) {
        JsonNode k = o.get("top_k");
        if (k == null || k.isNull()) {
            return 0;
        }
        if (!k.isIntegralNumber() || k.asLong() < 0 || k.asLong() > 1_000_000) {
            throw invalid("top_k", "must be a non-negative integer, got " + k);
        }
        return k.intValue();
    }

    private static void requireRole(String role, String wanted, String at, String type) {
        if (!role.equals(wanted)) {
            throw invalid(at + ".type", "a " + type + " block belongs in a " + wanted + " message");
        }
    }

    private static String string(JsonNode block, String field, String at) {
        JsonNode v = block.get(field);
        if (v == null || !v.isTextual()) {
            throw invalid(at + "." + field, "must be a string");
        }
        return v.textValue();
    }

    private static ServingError.ServingException invalid(String field, String message) {
        return ServingError.INVALID_REQUEST.with(field + ": " + message, field);
    }
}
