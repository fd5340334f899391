package dev.katmesh.proto.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.chat.ConversationRules;
import dev.katmesh.proto.json.TrajectoryJsonException.Kind;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.SolutionKind;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.v1.TreeLink;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The JSON form of a {@link Trajectory}: the OpenAI chat format (messages with {@code tool_calls} and
 * tool results, {@code tools}) plus katmesh's ids, steps, tokens, tree link and outcome, all in
 * snake_case as in the .proto. Deployed agents publish it with header {@code content-type:
 * application/json}; docs/architecture.md shows an example.
 *
 * <p>Parsing is strict about types (a wrong type is an error naming its JSON path) and lenient about
 * unknown fields (OpenAI clients add fields freely), except the fields only katmesh may set — rewards,
 * masks, advantages — which are dropped and reported in {@link Parsed#ignoredAgentFields()}.
 */
public final class TrajectoryJson {

    /** Fields an agent may send but katmesh never trusts: the reward service computes them. */
    static final Set<String> AGENT_FORBIDDEN_FIELDS = Set.of(
            "reward",
            "rewards",
            "reward_components",
            "components",
            "advantage",
            "advantages",
            "error_mask",
            "loss_mask",
            "masks",
            "weights",
            "placeholder",
            "scored_at_ms");

    private static final int MAX_NESTING = 64;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    static {
        MAPPER.getFactory()
                .setStreamReadConstraints(StreamReadConstraints.builder()
                        .maxNestingDepth(MAX_NESTING)
                        .build());
    }

    /** A parsed trajectory and the agent-set fields that were dropped (by JSON path). */
    public record Parsed(Trajectory trajectory, List<String> ignoredAgentFields) {}

    private TrajectoryJson() {}

    /** Parses UTF-8 JSON into a trajectory; requires {@code trajectory_id}, {@code group_id} and messages. */
    public static Parsed parse(byte[] json) throws TrajectoryJsonException {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new TrajectoryJsonException(Kind.MALFORMED_JSON, "$", e.getOriginalMessage());
        } catch (IOException e) {
            throw new TrajectoryJsonException(Kind.MALFORMED_JSON, "$", String.valueOf(e.getMessage()));
        }
        if (root == null || root.isMissingNode()) {
            throw new TrajectoryJsonException(Kind.MALFORMED_JSON, "$", "empty document");
        }
        WellFormedText.check(root, "$");
        return new Reader().trajectory(root);
    }

    /** Parses a JSON object already read (a line of a format that extends this one), as {@link #parse(byte[])}. */
    public static Parsed parse(JsonNode root) throws TrajectoryJsonException {
        if (root == null || root.isMissingNode()) {
            throw new TrajectoryJsonException(Kind.MALFORMED_JSON, "$", "empty document");
        }
        WellFormedText.check(root, "$");
        return new Reader().trajectory(root);
    }

    /** A trajectory's JSON object, as {@link #write} serialises it, for formats that add fields to it. */
    public static ObjectNode json(Trajectory t) {
        return Writer.trajectory(t);
    }

    /** Writes a trajectory as compact UTF-8 JSON; {@link #parse} of the result equals the input. */
    public static byte[] write(Trajectory t) {
        try {
            return MAPPER.writeValueAsBytes(Writer.trajectory(t));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
    }

    /** Parses an OpenAI {@code messages} array (a chat-completions request's), as strictly as a trajectory's. */
    public static List<ChatMessage> messages(JsonNode array, String path) throws TrajectoryJsonException {
        if (array == null || !array.isArray()) {
            throw wrongType(path, "an array of messages", array == null ? MissingNode.getInstance() : array);
        }
        WellFormedText.check(array, path);
        Reader r = new Reader();
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            out.add(r.message(array.get(i), path + "[" + i + "]"));
        }
        return out;
    }

    /** Parses an outcome object (a trajectory's {@code outcome}, or what an agent reports when it ends a session). */
    public static Outcome outcome(JsonNode node, String path) throws TrajectoryJsonException {
        if (node != null) {
            WellFormedText.check(node, path);
        }
        return new Reader().outcome(node, path);
    }

    /** Parses an OpenAI {@code tools} array; null or missing gives none. */
    public static List<ToolSchema> tools(JsonNode array, String path) throws TrajectoryJsonException {
        if (array == null || array.isNull() || array.isMissingNode()) {
            return List.of();
        }
        if (!array.isArray()) {
            throw wrongType(path, "an array of tools", array);
        }
        Reader r = new Reader();
        List<ToolSchema> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            out.add(r.tool(array.get(i), path + "[" + i + "]"));
        }
        return out;
    }

    /** A message in the OpenAI chat JSON shape. */
    public static ObjectNode messageJson(ChatMessage m) {
        return Writer.message(m);
    }

    // ---------------------------------------------------------------- reading

    private static final class Reader {
        private final List<String> ignored = new ArrayList<>();

        Parsed trajectory(JsonNode root) throws TrajectoryJsonException {
            ObjectNode o = object(root, "$");
            Trajectory.Builder b = Trajectory.newBuilder()
                    .setTrajectoryId(requiredText(o, "trajectory_id", "$"))
                    .setGroupId(requiredText(o, "group_id", "$"))
                    .setTaskId(text(o, "task_id", "$"))
                    .setSessionId(text(o, "session_id", "$"))
                    .setAgentId(text(o, "agent_id", "$"))
                    .setModel(text(o, "model", "$"))
                    .setCreatedAtMs(int64(o, "created_at_ms", "$"))
                    .setSource(source(o.get("source"), "$.source"));
            ArrayNode messages = array(o, "messages", "$");
            if (messages == null || messages.isEmpty()) {
                throw new TrajectoryJsonException(Kind.MISSING_FIELD, "$.messages", "at least one message is required");
            }
            for (int i = 0; i < messages.size(); i++) {
                b.addMessages(message(messages.get(i), "$.messages[" + i + "]"));
            }
            ArrayNode tools = array(o, "tools", "$");
            for (int i = 0; tools != null && i < tools.size(); i++) {
                b.addTools(tool(tools.get(i), "$.tools[" + i + "]"));
            }
            ArrayNode steps = array(o, "steps", "$");
            for (int i = 0; steps != null && i < steps.size(); i++) {
                b.addSteps(step(steps.get(i), "$.steps[" + i + "]"));
            }
            ArrayNode ids = array(o, "token_ids", "$");
            for (int i = 0; ids != null && i < ids.size(); i++) {
                b.addTokenIds(uint32(ids.get(i), "$.token_ids[" + i + "]"));
            }
            ArrayNode segments = array(o, "segments", "$");
            for (int i = 0; segments != null && i < segments.size(); i++) {
                b.addSegments(segment(segments.get(i), "$.segments[" + i + "]"));
            }
            if (present(o, "tree")) {
                b.setTree(tree(o.get("tree"), "$.tree"));
            }
            if (present(o, "outcome")) {
                b.setOutcome(outcome(o.get("outcome"), "$.outcome"));
            }
            if (present(o, "metadata")) {
                ObjectNode m = object(o.get("metadata"), "$.metadata");
                for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    b.putMetadata(e.getKey(), string(e.getValue(), "$.metadata." + e.getKey()));
                }
            }
            ArrayNode requests = array(o, "captured_request_ids", "$");
            for (int i = 0; requests != null && i < requests.size(); i++) {
                b.addCapturedRequestIds(string(requests.get(i), "$.captured_request_ids[" + i + "]"));
            }
            noteForbidden(o, "$");
            return new Parsed(b.build(), List.copyOf(ignored));
        }

        private void noteForbidden(ObjectNode o, String path) {
            for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (AGENT_FORBIDDEN_FIELDS.contains(name)) {
                    ignored.add(path + "." + name);
                }
            }
        }

        private ChatMessage message(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            ChatMessage.Builder b = ChatMessage.newBuilder()
                    .setRole(requiredText(o, "role", path))
                    .setContent(content(o.get("content"), path + ".content"))
                    .setToolCallId(text(o, "tool_call_id", path))
                    .setName(text(o, "name", path))
                    .setReasoningContent(text(o, "reasoning_content", path));
            String role = b.getRole();
            if (!ConversationRules.Mode.RECORD.roles().contains(role)) {
                throw new TrajectoryJsonException(Kind.INVALID_VALUE, path + ".role", "unknown role '" + role + "'");
            }
            ArrayNode calls = array(o, "tool_calls", path);
            for (int i = 0; calls != null && i < calls.size(); i++) {
                b.addToolCalls(toolCall(calls.get(i), path + ".tool_calls[" + i + "]"));
            }
            noteForbidden(o, path);
            return b.build();
        }

        /** OpenAI content: a string, null, or an array of parts of which the text parts are kept. */
        private String content(JsonNode node, String path) throws TrajectoryJsonException {
            if (node == null || node.isNull()) {
                return "";
            }
            if (node.isTextual()) {
                return node.textValue();
            }
            if (node.isArray()) {
                StringBuilder text = new StringBuilder();
                for (int i = 0; i < node.size(); i++) {
                    ObjectNode part = object(node.get(i), path + "[" + i + "]");
                    String type = requiredText(part, "type", path + "[" + i + "]");
                    if (type.equals("text")) {
                        text.append(requiredText(part, "text", path + "[" + i + "]"));
                    }
                }
                return text.toString();
            }
            throw wrongType(path, "a string, null or an array of content parts", node);
        }

        private ToolCall toolCall(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            ObjectNode fn = object(o.get("function"), path + ".function");
            String type = text(o, "type", path);
            return ToolCall.newBuilder()
                    .setId(requiredText(o, "id", path))
                    .setType(type.isEmpty() ? "function" : type)
                    .setName(requiredText(fn, "name", path + ".function"))
                    .setArguments(jsonText(fn.get("arguments"), path + ".function.arguments"))
                    .build();
        }

        private ToolSchema tool(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            ObjectNode fn = object(o.get("function"), path + ".function");
            String type = text(o, "type", path);
            return ToolSchema.newBuilder()
                    .setType(type.isEmpty() ? "function" : type)
                    .setName(requiredText(fn, "name", path + ".function"))
                    .setDescription(text(fn, "description", path + ".function"))
                    .setParametersJson(jsonText(fn.get("parameters"), path + ".function.parameters"))
                    .build();
        }

        /** A JSON value carried as text: a string is kept verbatim, an object or array is serialised. */
        private String jsonText(JsonNode node, String path) throws TrajectoryJsonException {
            if (node == null || node.isNull()) {
                return "";
            }
            if (node.isTextual()) {
                return node.textValue();
            }
            if (node.isObject() || node.isArray()) {
                try {
                    return MAPPER.writeValueAsString(node);
                } catch (JsonProcessingException e) {
                    throw new TrajectoryJsonException(Kind.INVALID_VALUE, path, e.getOriginalMessage());
                }
            }
            throw wrongType(path, "a JSON string or object", node);
        }

        private ToolStep step(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            ToolStep.Builder b = ToolStep.newBuilder()
                    .setMessageIndex(uint32(o, "message_index", path))
                    .setToolCallId(text(o, "tool_call_id", path))
                    .setToolName(text(o, "tool_name", path))
                    .setArguments(jsonText(o.get("arguments"), path + ".arguments"))
                    .setOutput(text(o, "output", path))
                    .setErrorClass(text(o, "error_class", path))
                    .setDurationMs(uint64(o, "duration_ms", path));
            if (present(o, "exit_code")) {
                b.setExitCode(int32(o.get("exit_code"), path + ".exit_code"));
            }
            return b.build();
        }

        private TokenSegment segment(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            TokenSegment.Builder b = TokenSegment.newBuilder()
                    .setStart(uint32(o, "start", path))
                    .setEnd(uint32(o, "end", path))
                    .setGenerated(bool(o, "generated", path))
                    .setPolicyVersion(uint64(o, "policy_version", path))
                    .setMessageIndex(
                            present(o, "message_index") ? int32(o.get("message_index"), path + ".message_index") : -1);
            ArrayNode lp = array(o, "logprobs", path);
            for (int i = 0; lp != null && i < lp.size(); i++) {
                b.addLogprobs((float) number(lp.get(i), path + ".logprobs[" + i + "]"));
            }
            return b.build();
        }

        private TreeLink tree(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            return TreeLink.newBuilder()
                    .setParentTrajectoryId(requiredText(o, "parent_trajectory_id", path))
                    .setBranchMessageIndex(uint32(o, "branch_message_index", path))
                    .setBranchTokenIndex(uint32(o, "branch_token_index", path))
                    .build();
        }

        private Outcome outcome(JsonNode node, String path) throws TrajectoryJsonException {
            ObjectNode o = object(node, path);
            Outcome.Builder b = Outcome.newBuilder()
                    .setSubmitted(bool(o, "submitted", path))
                    .setKind(solutionKind(o.get("kind"), path + ".kind"))
                    .setContent(text(o, "content", path))
                    .setPath(text(o, "path", path));
            ArrayNode results = array(o, "test_results", path);
            for (int i = 0; results != null && i < results.size(); i++) {
                String p = path + ".test_results[" + i + "]";
                ObjectNode r = object(results.get(i), p);
                b.addTestResults(TestResult.newBuilder()
                        .setName(text(r, "name", p))
                        .setPassed(bool(r, "passed", p))
                        .setPassedCases(uint32(r, "passed_cases", p))
                        .setTotalCases(uint32(r, "total_cases", p))
                        .setOutput(text(r, "output", p))
                        .setDurationMs(uint64(r, "duration_ms", p)));
            }
            if (present(o, "feedback")) {
                double f = number(o.get("feedback"), path + ".feedback");
                if (f < -1 || f > 1) {
                    throw new TrajectoryJsonException(
                            Kind.INVALID_VALUE, path + ".feedback", "must lie in [-1, 1], got " + f);
                }
                b.setFeedback(f);
            }
            noteForbidden(o, path);
            return b.build();
        }

        private TrajectorySource source(JsonNode node, String path) throws TrajectoryJsonException {
            if (node == null || node.isNull()) {
                return TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED;
            }
            return switch (string(node, path)) {
                case "deployed" -> TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED;
                case "rollout" -> TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT;
                default ->
                    throw new TrajectoryJsonException(
                            Kind.INVALID_VALUE,
                            path,
                            "expected \"deployed\" or \"rollout\", got \"" + node.textValue() + "\"");
            };
        }

        private SolutionKind solutionKind(JsonNode node, String path) throws TrajectoryJsonException {
            if (node == null || node.isNull()) {
                return SolutionKind.SOLUTION_KIND_UNSPECIFIED;
            }
            return switch (string(node, path)) {
                case "answer" -> SolutionKind.SOLUTION_KIND_ANSWER;
                case "patch" -> SolutionKind.SOLUTION_KIND_PATCH;
                case "file" -> SolutionKind.SOLUTION_KIND_FILE;
                default ->
                    throw new TrajectoryJsonException(
                            Kind.INVALID_VALUE,
                            path,
                            "expected \"answer\", \"patch\" or \"file\", got \"" + node.textValue() + "\"");
            };
        }
    }

    // ---------------------------------------------------------------- typed access

    private static boolean present(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        return n != null && !n.isNull();
    }

    private static ObjectNode object(JsonNode node, String path) throws TrajectoryJsonException {
        if (node == null || node.isNull()) {
            throw new TrajectoryJsonException(Kind.MISSING_FIELD, path, "an object is required");
        }
        if (!node.isObject()) {
            throw wrongType(path, "an object", node);
        }
        return (ObjectNode) node;
    }

    private static ArrayNode array(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isArray()) {
            throw wrongType(path + "." + field, "an array", n);
        }
        return (ArrayNode) n;
    }

    private static String string(JsonNode node, String path) throws TrajectoryJsonException {
        if (!node.isTextual()) {
            throw wrongType(path, "a string", node);
        }
        return node.textValue();
    }

    private static String text(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        return n == null || n.isNull() ? "" : string(n, path + "." + field);
    }

    private static String requiredText(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        String s = text(o, field, path);
        if (s.isBlank()) {
            throw new TrajectoryJsonException(Kind.MISSING_FIELD, path + "." + field, "a non-empty string is required");
        }
        return s;
    }

    private static boolean bool(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return false;
        }
        if (!n.isBoolean()) {
            throw wrongType(path + "." + field, "a boolean", n);
        }
        return n.booleanValue();
    }

    private static double number(JsonNode n, String path) throws TrajectoryJsonException {
        if (!n.isNumber()) {
            throw wrongType(path, "a number", n);
        }
        return n.doubleValue();
    }

    private static long integer(JsonNode n, String path, long min, long max) throws TrajectoryJsonException {
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            throw wrongType(path, "an integer", n);
        }
        long v = n.longValue();
        if (v < min || v > max) {
            throw new TrajectoryJsonException(
                    Kind.INVALID_VALUE, path, "must lie in [" + min + ", " + max + "], got " + v);
        }
        return v;
    }

    private static int int32(JsonNode n, String path) throws TrajectoryJsonException {
        return (int) integer(n, path, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static int uint32(JsonNode n, String path) throws TrajectoryJsonException {
        return (int) integer(n, path, 0, 0xFFFF_FFFFL);
    }

    private static int uint32(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        return n == null || n.isNull() ? 0 : uint32(n, path + "." + field);
    }

    private static long uint64(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        return n == null || n.isNull() ? 0 : integer(n, path + "." + field, 0, Long.MAX_VALUE);
    }

    private static long int64(ObjectNode o, String field, String path) throws TrajectoryJsonException {
        JsonNode n = o.get(field);
        return n == null || n.isNull() ? 0 : integer(n, path + "." + field, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    private static TrajectoryJsonException wrongType(String path, String expected, JsonNode actual) {
        return new TrajectoryJsonException(
                Kind.WRONG_TYPE, path, "expected " + expected + ", got " + describe(actual.getNodeType()));
    }

    private static String describe(JsonNodeType type) {
        return switch (type) {
            case ARRAY -> "an array";
            case BOOLEAN -> "a boolean";
            case NUMBER -> "a number";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NULL -> "null";
            default -> type.name().toLowerCase();
        };
    }

    // ---------------------------------------------------------------- writing

    private static final class Writer {
        static ObjectNode trajectory(Trajectory t) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("trajectory_id", t.getTrajectoryId());
            o.put("group_id", t.getGroupId());
            putIfSet(o, "task_id", t.getTaskId());
            putIfSet(o, "session_id", t.getSessionId());
            putIfSet(o, "agent_id", t.getAgentId());
            if (t.getSource() == TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT) {
                o.put("source", "rollout");
            } else if (t.getSource() == TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED) {
                o.put("source", "deployed");
            }
            putIfSet(o, "model", t.getModel());
            if (t.getCreatedAtMs() != 0) {
                o.put("created_at_ms", t.getCreatedAtMs());
            }
            ArrayNode messages = o.putArray("messages");
            t.getMessagesList().forEach(m -> messages.add(message(m)));
            if (t.getToolsCount() > 0) {
                ArrayNode tools = o.putArray("tools");
                t.getToolsList().forEach(s -> tools.add(tool(s)));
            }
            if (t.getStepsCount() > 0) {
                ArrayNode steps = o.putArray("steps");
                t.getStepsList().forEach(s -> steps.add(step(s)));
            }
            if (t.getTokenIdsCount() > 0) {
                ArrayNode ids = o.putArray("token_ids");
                t.getTokenIdsList().forEach(id -> ids.add(Integer.toUnsignedLong(id)));
            }
            if (t.getSegmentsCount() > 0) {
                ArrayNode segments = o.putArray("segments");
                t.getSegmentsList().forEach(s -> segments.add(segment(s)));
            }
            if (t.hasTree()) {
                ObjectNode tree = o.putObject("tree");
                tree.put("parent_trajectory_id", t.getTree().getParentTrajectoryId());
                tree.put(
                        "branch_message_index",
                        Integer.toUnsignedLong(t.getTree().getBranchMessageIndex()));
                tree.put(
                        "branch_token_index", Integer.toUnsignedLong(t.getTree().getBranchTokenIndex()));
            }
            if (t.hasOutcome()) {
                o.set("outcome", outcome(t.getOutcome()));
            }
            if (t.getMetadataCount() > 0) {
                ObjectNode m = o.putObject("metadata");
                t.getMetadataMap().forEach(m::put);
            }
            if (t.getCapturedRequestIdsCount() > 0) {
                ArrayNode requests = o.putArray("captured_request_ids");
                t.getCapturedRequestIdsList().forEach(requests::add);
            }
            return o;
        }

        static ObjectNode message(ChatMessage m) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("role", m.getRole());
            o.put("content", m.getContent());
            if (m.getToolCallsCount() > 0) {
                ArrayNode calls = o.putArray("tool_calls");
                for (ToolCall c : m.getToolCallsList()) {
                    ObjectNode call = calls.addObject();
                    call.put("id", c.getId());
                    call.put("type", c.getType().isEmpty() ? "function" : c.getType());
                    ObjectNode fn = call.putObject("function");
                    fn.put("name", c.getName());
                    fn.put("arguments", c.getArguments());
                }
            }
            putIfSet(o, "tool_call_id", m.getToolCallId());
            putIfSet(o, "name", m.getName());
            putIfSet(o, "reasoning_content", m.getReasoningContent());
            return o;
        }

        static ObjectNode tool(ToolSchema s) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("type", s.getType().isEmpty() ? "function" : s.getType());
            ObjectNode fn = o.putObject("function");
            fn.put("name", s.getName());
            putIfSet(fn, "description", s.getDescription());
            if (!s.getParametersJson().isEmpty()) {
                fn.set("parameters", embedded(s.getParametersJson()));
            }
            return o;
        }

        /** Embeds JSON text as a value when it is a JSON object or array, else keeps it as a string. */
        static JsonNode embedded(String json) {
            try {
                JsonNode n = MAPPER.readTree(json);
                if (n != null
                        && (n.isObject() || n.isArray())
                        && MAPPER.writeValueAsString(n).equals(json)) {
                    return n;
                }
            } catch (JsonProcessingException e) {
                // not JSON: carried as a string
            }
            return MAPPER.getNodeFactory().textNode(json);
        }

        static ObjectNode step(ToolStep s) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("message_index", Integer.toUnsignedLong(s.getMessageIndex()));
            putIfSet(o, "tool_call_id", s.getToolCallId());
            putIfSet(o, "tool_name", s.getToolName());
            putIfSet(o, "arguments", s.getArguments());
            putIfSet(o, "output", s.getOutput());
            if (s.hasExitCode()) {
                o.put("exit_code", s.getExitCode());
            }
            putIfSet(o, "error_class", s.getErrorClass());
            o.put("duration_ms", s.getDurationMs());
            return o;
        }

        static ObjectNode segment(TokenSegment s) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("start", Integer.toUnsignedLong(s.getStart()));
            o.put("end", Integer.toUnsignedLong(s.getEnd()));
            o.put("generated", s.getGenerated());
            o.put("policy_version", s.getPolicyVersion());
            if (s.getLogprobsCount() > 0) {
                ArrayNode lp = o.putArray("logprobs");
                s.getLogprobsList().forEach(lp::add);
            }
            o.put("message_index", s.getMessageIndex());
            return o;
        }

        static ObjectNode outcome(Outcome out) {
            ObjectNode o = MAPPER.createObjectNode();
            o.put("submitted", out.getSubmitted());
            switch (out.getKind()) {
                case SOLUTION_KIND_ANSWER -> o.put("kind", "answer");
                case SOLUTION_KIND_PATCH -> o.put("kind", "patch");
                case SOLUTION_KIND_FILE -> o.put("kind", "file");
                default -> {}
            }
            putIfSet(o, "content", out.getContent());
            putIfSet(o, "path", out.getPath());
            if (out.getTestResultsCount() > 0) {
                ArrayNode results = o.putArray("test_results");
                for (TestResult r : out.getTestResultsList()) {
                    ObjectNode x = results.addObject();
                    x.put("name", r.getName());
                    x.put("passed", r.getPassed());
                    x.put("passed_cases", Integer.toUnsignedLong(r.getPassedCases()));
                    x.put("total_cases", Integer.toUnsignedLong(r.getTotalCases()));
                    putIfSet(x, "output", r.getOutput());
                    x.put("duration_ms", r.getDurationMs());
                }
            }
            if (out.hasFeedback()) {
                o.put("feedback", out.getFeedback());
            }
            return o;
        }

        static void putIfSet(ObjectNode o, String field, String value) {
            if (!value.isEmpty()) {
                o.put(field, value);
            }
        }
    }
}
