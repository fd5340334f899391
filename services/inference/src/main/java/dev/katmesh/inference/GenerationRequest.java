package dev.katmesh.inference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What inference honours of a generation request, whatever protocol carried it, validated: a wrong field is a
 * 400 naming it. OpenAI chat completions and completions parse here ({@link #chat}, {@link #completion});
 * Anthropic Messages ({@link MessagesRequest}) and OpenAI Responses ({@link ResponsesRequest}) translate their
 * bodies into the same conversation through {@link #conversation}. Fields katmesh does not use (user,
 * metadata, ...) are ignored, as OpenAI-compatible servers do. {@code templateVariables} are the chat template's
 * extra variables ({@link TemplateVariables}).
 */
record GenerationRequest(
        String model,
        List<ChatMessage> messages,
        List<ToolSchema> tools,
        boolean toolsEnabled,
        Map<String, Object> templateVariables,
        String prompt,
        int[] promptIds,
        int maxTokens,
        float temperature,
        float topP,
        int topK,
        Long seed,
        int n,
        List<String> stop,
        boolean stream,
        boolean includeUsage,
        boolean logprobs) {

    static final int MAX_STOPS = 4;

    static GenerationRequest chat(JsonNode body, int defaultMaxTokens, int maxChoices) {
        ObjectNode o = object(body);
        List<ChatMessage> messages;
        List<ToolSchema> tools;
        try {
            messages = TrajectoryJson.messages(o.get("messages"), "messages");
            tools = TrajectoryJson.tools(o.get("tools"), "tools");
        } catch (TrajectoryJsonException e) {
            throw ServingError.INVALID_REQUEST.with(e.getMessage(), e.path());
        }
        if (messages.isEmpty()) {
            throw ServingError.INVALID_REQUEST.with("messages must hold at least one message", "messages");
        }
        ChatValidation.check(messages, tools);
        JsonNode choice = o.get("tool_choice");
        boolean toolsEnabled = !tools.isEmpty();
        if (choice != null && !choice.isNull()) {
            if (choice.isTextual() && Set.of("none", "auto", "required").contains(choice.textValue())) {
                toolsEnabled &= !choice.textValue().equals("none");
            } else if (choice.isObject()) {
                String named = choice.path("function").path("name").asText("");
                if (tools.stream().noneMatch(t -> t.getName().equals(named))) {
                    throw ServingError.INVALID_REQUEST.with(
                            "tool_choice names function '" + named + "', which is not among the tools", "tool_choice");
                }
            } else {
                throw ServingError.INVALID_REQUEST.with(
                        "tool_choice must be \"none\", \"auto\", \"required\" or an object", "tool_choice");
            }
        }
        if (o.path("top_logprobs").asInt(0) != 0) {
            throw ServingError.INVALID_REQUEST.with(
                    "top_logprobs is not supported: logprobs returns each chosen token's log-prob", "top_logprobs");
        }
        int max = o.has("max_completion_tokens")
                ? positive(o, "max_completion_tokens", defaultMaxTokens)
                : positive(o, "max_tokens", defaultMaxTokens);
        return new GenerationRequest(
                model(o),
                messages,
                tools,
                toolsEnabled,
                TemplateVariables.parse(o.get(TemplateVariables.FIELD)),
                null,
                null,
                max,
                temperature(o),
                topP(o),
                0,
                seed(o),
                n(o, maxChoices),
                stop(o),
                bool(o, "stream"),
                includeUsage(o),
                bool(o, "logprobs"));
    }

    static GenerationRequest completion(JsonNode body, int maxChoices) {
        ObjectNode o = object(body);
        JsonNode p = o.get("prompt");
        String prompt = null;
        int[] ids = null;
        if (p != null && p.isArray() && p.size() == 1 && !p.get(0).isNumber()) {
            p = p.get(0); // a batch of one prompt
        }
        if (p != null && p.isTextual()) {
            prompt = p.textValue();
            if (prompt.isEmpty()) {
                throw ServingError.INVALID_REQUEST.with("prompt must not be empty", "prompt");
            }
        } else if (p != null && p.isArray() && !p.isEmpty()) {
            ids = new int[p.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!p.get(i).isIntegralNumber()
                        || p.get(i).asLong() < 0
                        || p.get(i).asLong() > Integer.MAX_VALUE) {
                    throw ServingError.INVALID_REQUEST.with(
                            "prompt must be a string, or an array of token ids (one prompt per request)", "prompt");
                }
                ids[i] = p.get(i).intValue();
            }
        } else {
            throw ServingError.INVALID_REQUEST.with(
                    "prompt must be a non-empty string or array of token ids", "prompt");
        }
        if (bool(o, "echo")) {
            throw ServingError.INVALID_REQUEST.with("echo is not supported", "echo");
        }
        JsonNode lp = o.get("logprobs");
        boolean logprobs = lp != null
                && !lp.isNull()
                && (lp.isBoolean() ? lp.booleanValue() : lp.asInt(0) > 0 || lp.isIntegralNumber());
        return new GenerationRequest(
                model(o),
                List.of(),
                List.of(),
                false,
                Map.of(),
                prompt,
                ids,
                positive(o, "max_tokens", 16),
                temperature(o),
                topP(o),
                0,
                seed(o),
                n(o, maxChoices),
                stop(o),
                bool(o, "stream"),
                includeUsage(o),
                logprobs);
    }

    /**
     * A one-choice conversation request of a protocol other than chat completions (Messages, Responses), checked
     * as chat requests are: at least one message, the conversation rules, the tools.
     */
    static GenerationRequest conversation(
            String model,
            List<ChatMessage> messages,
            List<ToolSchema> tools,
            boolean toolsEnabled,
            Map<String, Object> templateVariables,
            int maxTokens,
            float temperature,
            float topP,
            int topK,
            List<String> stop,
            boolean stream,
            String messagesField) {
        if (messages.isEmpty()) {
            throw ServingError.INVALID_REQUEST.with(messagesField + " must hold at least one message", messagesField);
        }
        messages = leadingSystemJoined(messages);
        ChatValidation.check(messages, tools);
        return new GenerationRequest(
                model,
                messages,
                tools,
                toolsEnabled && !tools.isEmpty(),
                templateVariables,
                null,
                null,
                maxTokens,
                temperature,
                topP,
                topK,
                null,
                1,
                stop,
                stream,
                false,
                false);
    }

    /**
     * The system messages that open a conversation as one (blank lines between): instructions followed by developer
     * messages (Responses) are all system text, and chat templates render only a first system message.
     */
    static List<ChatMessage> leadingSystemJoined(List<ChatMessage> messages) {
        int n = 0;
        while (n < messages.size() && messages.get(n).getRole().equals("system")) {
            n++;
        }
        if (n < 2) {
            return messages;
        }
        List<ChatMessage> out = new ArrayList<>();
        out.add(ChatMessage.newBuilder()
                .setRole("system")
                .setContent(String.join(
                        "\n\n",
                        messages.subList(0, n).stream()
                                .map(ChatMessage::getContent)
                                .toList()))
                .build());
        out.addAll(messages.subList(n, messages.size()));
        return out;
    }

    /** This request with another {@code maxTokens}. */
    GenerationRequest withMaxTokens(int max) {
        return new GenerationRequest(
                model,
                messages,
                tools,
                toolsEnabled,
                templateVariables,
                prompt,
                promptIds,
                max,
                temperature,
                topP,
                topK,
                seed,
                n,
                stop,
                stream,
                includeUsage,
                logprobs);
    }

    /** Sampling parameters of choice {@code i} (seeds seed, seed+1, ... so that choices differ). */
    SamplingParams params(int i) {
        long s = seed == null ? ThreadLocalRandom.current().nextLong() : seed + i;
        return new SamplingParams(maxTokens, temperature, topK, topP, s, Set.of());
    }

    static ObjectNode object(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw ServingError.INVALID_REQUEST.with("the request body must be a JSON object", null);
        }
        return (ObjectNode) body;
    }

    static String model(ObjectNode o) {
        JsonNode m = o.get("model");
        if (m == null || !m.isTextual() || m.textValue().isEmpty()) {
            throw ServingError.INVALID_REQUEST.with("model is required (GET /v1/models lists it)", "model");
        }
        return m.textValue();
    }

    static float temperature(ObjectNode o) {
        return number(o, "temperature", 1f, 0f, 2f);
    }

    static float topP(ObjectNode o) {
        float p = number(o, "top_p", 1f, 0f, 1f);
        if (p == 0) {
            throw ServingError.INVALID_REQUEST.with("top_p must lie in (0, 1]", "top_p");
        }
        return p;
    }

    static float number(ObjectNode o, String field, float dflt, float min, float max) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isNumber() || !Double.isFinite(n.doubleValue()) || n.doubleValue() < min || n.doubleValue() > max) {
            throw ServingError.INVALID_REQUEST.with(
                    field + " must be a number in [" + min + ", " + max + "], got " + n, field);
        }
        return n.floatValue();
    }

    static int positive(ObjectNode o, String field, int dflt) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return dflt;
        }
        if (!n.isIntegralNumber() || n.asLong() < 1 || n.asLong() > 1_000_000) {
            throw ServingError.INVALID_REQUEST.with(field + " must be a positive integer, got " + n, field);
        }
        return n.intValue();
    }

    private static int n(ObjectNode o, int maxChoices) {
        int n = positive(o, "n", 1);
        if (n > maxChoices) {
            throw ServingError.INVALID_REQUEST.with("n must be at most " + maxChoices + ", got " + n, "n");
        }
        return n;
    }

    static Long seed(ObjectNode o) {
        JsonNode n = o.get("seed");
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw ServingError.INVALID_REQUEST.with("seed must be an integer", "seed");
        }
        return n.longValue();
    }

    private static List<String> stop(ObjectNode o) {
        JsonNode n = o.get("stop");
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) {
            return out;
        }
        if (n.isTextual()) {
            out.add(n.textValue());
        } else if (n.isArray() && n.size() <= MAX_STOPS) {
            n.forEach(s -> out.add(s.isTextual() ? s.textValue() : ""));
        } else {
            throw ServingError.INVALID_REQUEST.with(
                    "stop must be a string or an array of at most " + MAX_STOPS + " strings", "stop");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ServingError.INVALID_REQUEST.with("stop strings must be non-empty strings", "stop");
        }
        return out;
    }

    static boolean bool(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw ServingError.INVALID_REQUEST.with(field + " must be true or false", field);
        }
        return n.booleanValue();
    }

    private static boolean includeUsage(ObjectNode o) {
        JsonNode so = o.get("stream_options");
        if (so == null || so.isNull()) {
            return false;
        }
        if (!so.isObject()) {
            throw ServingError.INVALID_REQUEST.with("stream_options must be an object", "stream_options");
        }
        return bool((ObjectNode) so, "include_usage");
    }
}
