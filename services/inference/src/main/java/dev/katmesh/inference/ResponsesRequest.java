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
import java.util.function.Function;

/**
 * An OpenAI Responses request ({@code POST /v1/responses}) translated into the conversation the chat template
 * renders. {@code instructions} is the system message (not carried over from a previous response, as OpenAI
 * specifies); {@code input} is a string (one user message) or items: messages (developer counts as system),
 * {@code function_call} items (joined to the assistant message before them), {@code function_call_output}
 * items (tool messages), {@code reasoning} items (their summary becomes the next assistant message's reasoning),
 * and Codex's freeform {@code custom_tool_call} / {@code custom_tool_call_output}. A custom tool is offered to
 * the model as a function with one string parameter, {@code input}.
 *
 * @param items the conversation without the instructions: what a later request's previous_response_id continues
 * @param customTools the names of the request's custom (freeform) tools
 * @param toolsNotOffered the hosted tools of the request (web search, ...), which this server does not run
 * @param body the request, whose settings the response echoes
 */
record ResponsesRequest(
        GenerationRequest generation,
        String instructions,
        List<ChatMessage> items,
        Set<String> customTools,
        List<String> toolsNotOffered,
        String previousResponseId,
        boolean store,
        String promptCacheKey,
        ObjectNode body) {

    /** The schema a custom tool is offered with: its freeform input as one string. */
    static final String CUSTOM_SCHEMA =
            "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\"}},\"required\":[\"input\"]}";

    /** Parses {@code body}; {@code earlier} is the stored conversation its previous_response_id names (or empty). */
    static ResponsesRequest parse(JsonNode body, int defaultMaxTokens, Function<String, List<ChatMessage>> earlier) {
        ObjectNode o = GenerationRequest.object(body);
        String model = GenerationRequest.model(o);
        if (o.hasNonNull("conversation")) {
            throw invalid("conversation", "the Conversations API is not served: continue with previous_response_id");
        }
        String previous = o.hasNonNull("previous_response_id") ? text(o, "previous_response_id") : null;
        Set<String> custom = new HashSet<>();
        List<String> notOffered = new ArrayList<>();
        List<ToolSchema> tools = tools(o.get("tools"), custom, notOffered);
        boolean toolsEnabled = toolChoice(o.get("tool_choice"), tools);
        List<ChatMessage> items = new ArrayList<>(previous == null ? List.of() : earlier.apply(previous));
        input(o.get("input"), items);
        String instructions = o.hasNonNull("instructions") ? text(o, "instructions") : "";
        List<ChatMessage> messages = new ArrayList<>();
        if (!instructions.isEmpty()) {
            messages.add(ChatMessage.newBuilder()
                    .setRole("system")
                    .setContent(instructions)
                    .build());
        }
        messages.addAll(items);
        JsonNode textFormat = o.path("text").path("format").path("type");
        if (!textFormat.isMissingNode() && !textFormat.asText().equals("text")) {
            throw invalid("text.format", "only plain text output is supported, not '" + textFormat.asText() + "'");
        }
        GenerationRequest g = GenerationRequest.conversation(
                model,
                messages,
                tools,
                toolsEnabled,
                TemplateVariables.withThinking(
                        TemplateVariables.parse(o.get(TemplateVariables.FIELD)), thinking(o.get("reasoning"))),
                GenerationRequest.positive(o, "max_output_tokens", defaultMaxTokens),
                GenerationRequest.number(o, "temperature", 1f, 0f, 2f),
                topP(o),
                0,
                List.of(),
                GenerationRequest.bool(o, "stream"),
                "input");
        JsonNode storeField = o.get("store");
        boolean store = storeField == null || storeField.isNull() || GenerationRequest.bool(o, "store");
        String cacheKey = o.hasNonNull("prompt_cache_key") ? text(o, "prompt_cache_key") : null;
        return new ResponsesRequest(
                g, instructions, items, Set.copyOf(custom), List.copyOf(notOffered), previous, store, cacheKey, o);
    }

    /** reasoning.effort as the template's enable_thinking: "none" turns thinking off, any other effort on. */
    private static Boolean thinking(JsonNode reasoning) {
        JsonNode effort = reasoning == null ? null : reasoning.get("effort");
        if (effort == null || effort.isNull()) {
            return null;
        }
        return switch (effort.asText("")) {
            case "none" -> false;
            case "minimal", "low", "medium", "high", "xhigh" -> true;
            default ->
                throw invalid("reasoning.effort", "must be none, minimal, low, medium, high or xhigh, got " + effort);
        };
    }

    private static void input(JsonNode input, List<ChatMessage> out) {
        if (input == null || input.isNull()) {
            throw invalid("input", "is required: a string or an array of input items");
        }
        if (input.isTextual()) {
            out.add(ChatMessage.newBuilder()
                    .setRole("user")
                    .setContent(input.textValue())
                    .build());
            return;
        }
        if (!input.isArray()) {
            throw invalid("input", "must be a string or an array of input items");
        }
        Set<String> calls = new HashSet<>();
        out.forEach(m -> m.getToolCallsList().forEach(c -> calls.add(c.getId())));
        String reasoning = "";
        for (int i = 0; i < input.size(); i++) {
            JsonNode item = input.get(i);
            String at = "input[" + i + "]";
            if (!item.isObject()) {
                throw invalid(at, "must be an object");
            }
            String type = item.hasNonNull("type") ? item.path("type").asText() : "message";
            switch (type) {
                case "message" -> {
                    String role = item.path("role").asText("");
                    String mapped = switch (role) {
                        case "user", "assistant", "system" -> role;
                        case "developer" -> "system";
                        default ->
                            throw invalid(
                                    at + ".role", "must be user, assistant, system or developer, got '" + role + "'");
                    };
                    ChatMessage.Builder m =
                            ChatMessage.newBuilder().setRole(mapped).setContent(content(item.get("content"), at));
                    if (mapped.equals("assistant")) {
                        m.setReasoningContent(reasoning);
                        reasoning = "";
                    }
                    out.add(m.build());
                }
                case "function_call", "custom_tool_call" -> {
                    String id = text(item, "call_id", at);
                    if (!calls.add(id)) {
                        throw invalid(at + ".call_id", "call_id '" + id + "' is used twice");
                    }
                    String arguments = type.equals("function_call")
                            ? text(item, "arguments", at)
                            : HttpReplies.JSON
                                    .createObjectNode()
                                    .put("input", text(item, "input", at))
                                    .toString();
                    ToolCall call = ToolCall.newBuilder()
                            .setId(id)
                            .setType("function")
                            .setName(text(item, "name", at))
                            .setArguments(arguments)
                            .build();
                    ChatMessage last = out.isEmpty() ? null : out.get(out.size() - 1);
                    if (last != null && last.getRole().equals("assistant")) {
                        out.set(
                                out.size() - 1,
                                last.toBuilder().addToolCalls(call).build());
                    } else {
                        out.add(ChatMessage.newBuilder()
                                .setRole("assistant")
                                .setReasoningContent(reasoning)
                                .addToolCalls(call)
                                .build());
                        reasoning = "";
                    }
                }
                case "function_call_output", "custom_tool_call_output" -> {
                    String id = text(item, "call_id", at);
                    if (!calls.contains(id)) {
                        throw invalid(at + ".call_id", "no earlier function_call has call_id '" + id + "'");
                    }
                    out.add(ChatMessage.newBuilder()
                            .setRole("tool")
                            .setToolCallId(id)
                            .setContent(content(item.get("output"), at + ".output"))
                            .build());
                }
                case "reasoning" -> {
                    StringBuilder s = new StringBuilder();
                    for (JsonNode part : item.path("summary")) {
                        s.append(s.isEmpty() ? "" : "\n")
                                .append(part.path("text").asText(""));
                    }
                    reasoning = s.toString();
                }
                default -> throw invalid(at + ".type", "input item type '" + type + "' is not supported");
            }
        }
    }

    /** A message's or output's content: a string, or text parts joined (images and files are refused). */
    private static String content(JsonNode content, String at) {
        if (content == null || content.isNull()) {
            return "";
        }
        if (content.isTextual()) {
            return content.textValue();
        }
        if (!content.isArray()) {
            throw invalid(at + ".content", "must be a string or an array of content parts");
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < content.size(); i++) {
            JsonNode part = content.get(i);
            String type = part.path("type").asText("");
            switch (type) {
                case "input_text", "output_text", "text" -> s.append(text(part, "text", at + ".content[" + i + "]"));
                case "refusal" -> s.append(text(part, "refusal", at + ".content[" + i + "]"));
                default ->
                    throw invalid(
                            at + ".content[" + i + "].type",
                            "'" + type + "' content is not supported by this model (text only)");
            }
        }
        return s.toString();
    }

    /**
     * Tools the server runs itself (OpenAI's hosted tools): this server cannot, so they are not offered to the model,
     * and the response lists them ({@code katmesh.tools_not_offered}) rather than failing the agent that sent them.
     */
    static final Set<String> HOSTED_TOOLS = Set.of(
            "web_search",
            "web_search_preview",
            "file_search",
            "code_interpreter",
            "image_generation",
            "computer_use_preview",
            "mcp",
            "local_shell");

    /**
     * Function tools as they are; custom (freeform) tools as a function of one string; a namespace's tools as its
     * members; hosted tools left out (listed in {@code notOffered}); any other type refused.
     */
    private static List<ToolSchema> tools(JsonNode tools, Set<String> custom, List<String> notOffered) {
        if (tools == null || tools.isNull()) {
            return List.of();
        }
        if (!tools.isArray()) {
            throw invalid("tools", "must be an array of tools");
        }
        List<ToolSchema> out = new ArrayList<>();
        collect(tools, "tools", custom, notOffered, out);
        return out;
    }

    private static void collect(
            JsonNode tools, String path, Set<String> custom, List<String> notOffered, List<ToolSchema> out) {
        for (int i = 0; i < tools.size(); i++) {
            JsonNode t = tools.get(i);
            String at = path + "[" + i + "]";
            String type = t.path("type").asText("");
            if (HOSTED_TOOLS.contains(type)) {
                notOffered.add(type);
                continue;
            }
            if (type.equals("namespace") && t.path("tools").isArray()) {
                collect(t.get("tools"), at + ".tools", custom, notOffered, out); // Codex groups sub-agent tools so
                continue;
            }
            String name = text(t, "name", at);
            ToolSchema.Builder schema = ToolSchema.newBuilder()
                    .setType("function")
                    .setName(name)
                    .setDescription(t.path("description").asText(""));
            switch (type) {
                case "function" -> {
                    JsonNode p = t.get("parameters");
                    schema.setParametersJson(
                            p == null || p.isNull() ? "{\"type\":\"object\",\"properties\":{}}" : p.toString());
                }
                case "custom" -> {
                    custom.add(name);
                    schema.setParametersJson(CUSTOM_SCHEMA);
                }
                default ->
                    throw invalid(
                            at + ".type",
                            "tool type '" + type
                                    + "' is not supported (function, custom and namespace tools are; hosted"
                                    + " tools are left out)");
            }
            out.add(schema.build());
        }
    }

    private static boolean toolChoice(JsonNode choice, List<ToolSchema> tools) {
        if (choice == null || choice.isNull()) {
            return true;
        }
        if (choice.isTextual() && Set.of("none", "auto", "required").contains(choice.textValue())) {
            return !choice.textValue().equals("none");
        }
        if (choice.isObject()) {
            String name = choice.path("name").asText("");
            if (tools.stream().noneMatch(t -> t.getName().equals(name))) {
                throw invalid("tool_choice", "names tool '" + name + "', which is not among the tools");
            }
            return true;
        }
        throw invalid("tool_choice", "must be \"none\", \"auto\", \"required\" or an object naming a tool");
    }

    private static float topP(ObjectNode o) {
        float p = GenerationRequest.number(o, "top_p", 1f, 0f, 1f);
        if (p == 0) {
            throw invalid("top_p", "must lie in (0, 1]");
        }
        return p;
    }

    private static String text(JsonNode o, String field) {
        return text(o, field, null);
    }

    private static String text(JsonNode o, String field, String at) {
        String name = at == null ? field : at + "." + field;
        JsonNode v = o.get(field);
        if (v == null || !v.isTextual()) {
            throw invalid(name, "must be a string");
        }
        return v.textValue();
    }

    private static ServingError.ServingException invalid(String field, String message) {
        return ServingError.INVALID_REQUEST.with(field + " " + message, field);
    }
}
