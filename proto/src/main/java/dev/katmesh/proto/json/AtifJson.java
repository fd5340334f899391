package dev.katmesh.proto.json;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.json.TrajectoryJsonException.Kind;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.io.IOException;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

/**
 * A scored trajectory in the Agent Trajectory Interchange Format, ATIF-v1.7 (Harbor's RFC 0001): one JSON object
 * per trajectory, with the conversation as steps, so that other stacks (Harbor, and the trainers that read its
 * trajectories) use katmesh's log and katmesh uses theirs.
 *
 * <p>Writing: a system or user message is a {@code system} or {@code user} step; an assistant message is an
 * {@code agent} step with its {@code reasoning_content} and {@code tool_calls} (arguments as a JSON object), the tool
 * messages that answer it as its {@code observation.results} ({@code source_call_id} = the call's id), and, when the
 * policy generated it, {@code metrics} with the segment's {@code completion_token_ids}, {@code logprobs},
 * {@code prompt_tokens} (the tokens before it) and {@code completion_tokens}. Tools are the agent's
 * {@code tool_definitions}. Only ATIF's own keys are used (its validator refuses others); what ATIF has no field for
 * (group, task, source, token segments, tree, outcome, reward and its components, error mask, turn verdicts) is in
 * the root's {@code extra.katmesh}, in {@link ScoredJson}'s form, and a step's own leftovers (a tool message's
 * {@code name}, arguments that are not a JSON object) in that step's or call's {@code extra.katmesh}.
 *
 * <p>Reading a file another stack wrote (no {@code extra.katmesh}): the steps become messages ({@code is_copied_context}
 * steps are skipped: they repeat earlier context), the trajectory id is {@code trajectory_id} or {@code session_id},
 * the source is {@code deployed} and there is no reward (0, {@code taskless}): such a file feeds supervised stages,
 * whose samples the chat template renders.
 */
public final class AtifJson {

    public static final String VERSION = "ATIF-v1.7";

    private static final ObjectMapper MAPPER = JsonMapper.builder().build();

    private AtifJson() {}

    /** Whether a JSON object is an ATIF trajectory (its {@code schema_version} starts with "ATIF-"). */
    public static boolean isAtif(JsonNode o) {
        return o != null && o.isObject() && o.path("schema_version").asText("").startsWith("ATIF-");
    }

    public static byte[] write(ScoredTrajectory s) {
        try {
            return MAPPER.writeValueAsBytes(json(s));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
    }

    public static ObjectNode json(ScoredTrajectory s) {
        Trajectory t = s.getTrajectory();
        ObjectNode root = MAPPER.createObjectNode();
        root.put("schema_version", VERSION);
        if (!t.getSessionId().isEmpty()) {
            root.put("session_id", t.getSessionId());
        }
        root.put("trajectory_id", t.getTrajectoryId());
        ObjectNode agent = root.putObject("agent");
        agent.put("name", t.getAgentId().isEmpty() ? "katmesh-" + source(t) : t.getAgentId());
        agent.put("version", "unknown");
        if (!t.getModel().isEmpty()) {
            agent.put("model_name", t.getModel());
        }
        ObjectNode whole = ScoredJson.json(s);
        if (whole.has("tools")) {
            agent.set("tool_definitions", whole.get("tools"));
        }
        ArrayNode steps = root.putArray("steps");
        int completion = 0;
        int prompt = 0;
        for (int i = 0; i < t.getMessagesCount(); ) {
            ChatMessage m = t.getMessages(i);
            ObjectNode step = steps.addObject();
            step.put("step_id", steps.size());
            switch (m.getRole()) {
                case "assistant" -> {
                    step.put("source", "agent");
                    step.put("message", m.getContent());
                    if (!m.getReasoningContent().isEmpty()) {
                        step.put("reasoning_content", m.getReasoningContent());
                    }
                    Set<String> ids = new HashSet<>();
                    if (m.getToolCallsCount() > 0) {
                        ArrayNode calls = step.putArray("tool_calls");
                        for (ToolCall c : m.getToolCallsList()) {
                            calls.add(toolCall(c));
                            ids.add(c.getId());
                        }
                    }
                    TokenSegment generated = generatedSegment(t, i);
                    if (generated != null) {
                        ObjectNode metrics = step.putObject("metrics");
                        metrics.put("prompt_tokens", generated.getStart());
                        metrics.put("completion_tokens", generated.getEnd() - generated.getStart());
                        ArrayNode tokenIds = metrics.putArray("completion_token_ids");
                        for (int k = generated.getStart(); k < generated.getEnd(); k++) {
                            tokenIds.add(Integer.toUnsignedLong(t.getTokenIds(k)));
                        }
                        if (generated.getLogprobsCount() == generated.getEnd() - generated.getStart()) {
                            ArrayNode logprobs = metrics.putArray("logprobs");
                            generated.getLogprobsList().forEach(logprobs::add);
                        }
                        prompt += generated.getStart();
                        completion += generated.getEnd() - generated.getStart();
                    }
                    i++;
                    ArrayNode results = null;
                    while (i < t.getMessagesCount()
                            && t.getMessages(i).getRole().equals("tool")) {
                        if (results == null) {
                            results = step.putObject("observation").putArray("results");
                        }
                        results.add(result(t.getMessages(i), ids));
                        i++;
                    }
                }
                case "tool" -> { // a tool result with no assistant turn before it: a system event
                    step.put("source", "system");
                    step.put("message", "");
                    ArrayNode results = step.putObject("observation").putArray("results");
                    while (i < t.getMessagesCount()
                            && t.getMessages(i).getRole().equals("tool")) {
                        results.add(result(t.getMessages(i), Set.of()));
                        i++;
                    }
                }
                default -> {
                    step.put("source", m.getRole().equals("user") ? "user" : "system");
                    step.put("message", m.getContent());
                    ObjectNode k = MAPPER.createObjectNode();
                    if (!m.getRole().equals("user") && !m.getRole().equals("system")) {
                        k.put("role", m.getRole());
                    }
                    if (!m.getName().isEmpty()) {
                        k.put("name", m.getName());
                    }
                    if (!k.isEmpty()) {
                        step.putObject("extra").set("katmesh", k);
                    }
                    i++;
                }
            }
        }
        ObjectNode fm = root.putObject("final_metrics");
        fm.put("total_prompt_tokens", prompt);
        fm.put("total_completion_tokens", completion);
        fm.put("total_steps", steps.size());
        whole.remove("messages");
        whole.remove("tools");
        root.putObject("extra").set("katmesh", whole);
        return root;
    }

    public static ScoredTrajectory read(byte[] json) throws TrajectoryJsonException {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new TrajectoryJsonException(Kind.MALFORMED_JSON, "$", String.valueOf(e.getMessage()));
        }
        return read(root);
    }

    public static ScoredTrajectory read(JsonNode root) throws TrajectoryJsonException {
        if (!isAtif(root)) {
            throw new TrajectoryJsonException(Kind.INVALID_VALUE, "$.schema_version", "not an ATIF trajectory");
        }
        JsonNode steps = root.path("steps");
        if (!steps.isArray() || steps.isEmpty()) {
            throw new TrajectoryJsonException(Kind.MISSING_FIELD, "$.steps", "at least one step is required");
        }
        ArrayNode messages = MAPPER.createArrayNode();
        for (int i = 0; i < steps.size(); i++) {
            JsonNode step = steps.get(i);
            if (step.path("is_copied_context").asBoolean(false)) {
                continue;
            }
            addMessages(step, "$.steps[" + i + "]", messages);
        }
        JsonNode katmesh = root.path("extra").path("katmesh");
        ObjectNode whole;
        if (katmesh.isObject()) {
            whole = katmesh.deepCopy();
        } else {
            whole = MAPPER.createObjectNode();
            String id = root.hasNonNull("trajectory_id")
                    ? root.get("trajectory_id").asText()
                    : root.path("session_id").asText("");
            if (id.isEmpty()) {
                throw new TrajectoryJsonException(
                        Kind.MISSING_FIELD, "$.trajectory_id", "an ATIF trajectory needs trajectory_id or session_id");
            }
            whole.put("trajectory_id", id);
            whole.put("group_id", root.path("session_id").asText(id));
            if (root.hasNonNull("session_id")) {
                whole.put("session_id", root.get("session_id").asText());
            }
            whole.put("agent_id", root.path("agent").path("name").asText(""));
            if (root.path("agent").hasNonNull("model_name")) {
                whole.put("model", root.path("agent").get("model_name").asText());
            }
            whole.put("source", "deployed");
            whole.put("reward", 0.0);
            whole.put("taskless", true);
            whole.put("scorer", "atif-import");
        }
        whole.set("messages", messages);
        JsonNode tools = root.path("agent").path("tool_definitions");
        if (tools.isArray() && !tools.isEmpty()) {
            whole.set("tools", tools);
        }
        return ScoredJson.read(whole);
    }

    /** The messages one step stands for, in order. */
    private static void addMessages(JsonNode step, String path, ArrayNode messages) throws TrajectoryJsonException {
        String source = step.path("source").asText("");
        JsonNode k = step.path("extra").path("katmesh");
        ObjectNode m = MAPPER.createObjectNode();
        switch (source) {
            case "agent" -> {
                m.put("role", "assistant");
                m.put("content", content(step.get("message"), path + ".message"));
                if (step.hasNonNull("reasoning_content")) {
                    m.put("reasoning_content", step.get("reasoning_content").asText());
                }
                JsonNode calls = step.path("tool_calls");
                if (calls.isArray() && !calls.isEmpty()) {
                    ArrayNode out = m.putArray("tool_calls");
                    for (int c = 0; c < calls.size(); c++) {
                        out.add(fromToolCall(calls.get(c), path + ".tool_calls[" + c + "]"));
                    }
                }
                messages.add(m);
            }
            case "user", "system" -> {
                String message = content(step.get("message"), path + ".message");
                if (!message.isEmpty() || !step.has("observation")) {
                    m.put("role", k.hasNonNull("role") ? k.get("role").asText() : source);
                    m.put("content", message);
                    if (k.hasNonNull("name")) {
                        m.put("name", k.get("name").asText());
                    }
                    messages.add(m);
                }
            }
            default ->
                throw new TrajectoryJsonException(
                        Kind.INVALID_VALUE, path + ".source", "expected system, user or agent, got '" + source + "'");
        }
        JsonNode results = step.path("observation").path("results");
        for (int r = 0; r < results.size(); r++) {
            JsonNode result = results.get(r);
            JsonNode rk = result.path("extra").path("katmesh");
            ObjectNode tool = messages.addObject();
            tool.put("role", "tool");
            tool.put(
                    "content",
                    result.hasNonNull("content")
                            ? content(result.get("content"), path + ".observation.results[" + r + "].content")
                            : "");
            String callId = result.hasNonNull("source_call_id")
                    ? result.get("source_call_id").asText()
                    : rk.path("tool_call_id").asText("");
            if (!callId.isEmpty()) {
                tool.put("tool_call_id", callId);
            }
            if (rk.hasNonNull("name")) {
                tool.put("name", rk.get("name").asText());
            }
        }
    }

    private static ObjectNode toolCall(ToolCall c) {
        ObjectNode call = MAPPER.createObjectNode();
        call.put("tool_call_id", c.getId());
        call.put("function_name", c.getName());
        ObjectNode k = MAPPER.createObjectNode();
        JsonNode args = null;
        try {
            args = MAPPER.readTree(c.getArguments());
        } catch (IOException e) {
            // not JSON: kept raw below
        }
        if (args != null && args.isObject() && canonical(args).equals(c.getArguments())) {
            call.set("arguments", args);
        } else {
            // ATIF requires an object; the exact text the model wrote is kept for katmesh's round trip.
            call.set("arguments", args != null && args.isObject() ? args : MAPPER.createObjectNode());
            k.put("arguments", c.getArguments());
        }
        if (!c.getType().isEmpty() && !c.getType().equals("function")) {
            k.put("type", c.getType());
        }
        if (!k.isEmpty()) {
            call.putObject("extra").set("katmesh", k);
        }
        return call;
    }

    private static ObjectNode fromToolCall(JsonNode call, String path) throws TrajectoryJsonException {
        JsonNode k = call.path("extra").path("katmesh");
        ObjectNode out = MAPPER.createObjectNode();
        out.put("id", call.path("tool_call_id").asText(""));
        out.put("type", k.path("type").asText("function"));
        ObjectNode fn = out.putObject("function");
        if (!call.path("function_name").isTextual()) {
            throw new TrajectoryJsonException(Kind.MISSING_FIELD, path + ".function_name", "expected a string");
        }
        fn.put("name", call.get("function_name").asText());
        fn.put(
                "arguments",
                k.hasNonNull("arguments")
                        ? k.get("arguments").asText()
                        : call.hasNonNull("arguments") ? canonical(call.get("arguments")) : "{}");
        return out;
    }

    private static ObjectNode result(ChatMessage tool, Set<String> callIds) {
        ObjectNode r = MAPPER.createObjectNode();
        ObjectNode k = MAPPER.createObjectNode();
        if (callIds.contains(tool.getToolCallId())) {
            r.put("source_call_id", tool.getToolCallId());
        } else if (!tool.getToolCallId().isEmpty()) {
            k.put("tool_call_id", tool.getToolCallId()); // ATIF's source_call_id must name a call of the same step
        }
        r.put("content", tool.getContent());
        if (!tool.getName().isEmpty()) {
            k.put("name", tool.getName());
        }
        if (!k.isEmpty()) {
            r.putObject("extra").set("katmesh", k);
        }
        return r;
    }

    /** A step's message: a string, or ATIF's content parts, whose text parts are joined by newlines. */
    private static String content(JsonNode message, String path) throws TrajectoryJsonException {
        if (message == null || message.isNull()) {
            return "";
        }
        if (message.isTextual()) {
            return message.textValue();
        }
        if (!message.isArray()) {
            throw new TrajectoryJsonException(Kind.WRONG_TYPE, path, "expected a string or content parts");
        }
        StringBuilder out = new StringBuilder();
        for (Iterator<JsonNode> it = message.elements(); it.hasNext(); ) {
            JsonNode part = it.next();
            if (part.path("type").asText("").equals("text")) {
                if (!out.isEmpty()) {
                    out.append('\n');
                }
                out.append(part.path("text").asText(""));
            }
        }
        return out.toString();
    }

    /** Compact JSON, as OpenAI's APIs and katmesh's inference write tool-call arguments. */
    private static String canonical(JsonNode n) {
        return n.toString();
    }

    /** The generated segment of message {@code index}, or null. */
    private static TokenSegment generatedSegment(Trajectory t, int index) {
        for (TokenSegment s : t.getSegmentsList()) {
            if (s.getGenerated() && s.getMessageIndex() == index) {
                return s;
            }
        }
        return null;
    }

    private static String source(Trajectory t) {
        return t.getSource() == TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT ? "rollout" : "deployed";
    }
}
