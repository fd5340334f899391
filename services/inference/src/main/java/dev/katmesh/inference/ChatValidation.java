package dev.katmesh.inference;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What a conversation sent to inference must satisfy, over gRPC and HTTP alike: the rules the reward
 * service applies to captured trajectories (TrajectoryValidator), checked at the door, so that a
 * request inference serves never becomes a captured session the reward dead-letters.
 */
final class ChatValidation {

    static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    private ChatValidation() {}

    /** Throws INVALID_REQUEST naming the first broken rule. */
    static void check(List<ChatMessage> messages, List<ToolSchema> tools) {
        Set<String> calls = new HashSet<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String at = "messages[" + i + "]";
            if (!ROLES.contains(m.getRole())) {
                throw ServingError.INVALID_REQUEST.with(at + ".role '" + m.getRole() + "' is not one of system, user, assistant, tool", at + ".role");
            }
            for (ToolCall c : m.getToolCallsList()) {
                if (c.getId().isEmpty() || c.getName().isEmpty()) {
                    throw ServingError.INVALID_REQUEST.with(at + " has a tool call without id or function name", at + ".tool_calls");
                }
                if (!calls.add(c.getId())) {
                    throw ServingError.INVALID_REQUEST.with("tool call id '" + c.getId() + "' is used twice", at + ".tool_calls");
                }
            }
            if (m.getRole().equals("tool") && !calls.contains(m.getToolCallId())) {
                throw ServingError.INVALID_REQUEST.with(at + " answers tool call '" + m.getToolCallId() + "', which no earlier assistant message made",
                        at + ".tool_call_id");
            }
        }
        for (int i = 0; i < tools.size(); i++) {
            String type = tools.get(i).getType();
            if (!type.isEmpty() && !type.equals("function")) {
                throw ServingError.INVALID_REQUEST.with("tools[" + i + "].type '" + type + "' is not supported (only \"function\")", "tools[" + i + "].type");
            }
            if (tools.get(i).getName().isBlank()) {
                throw ServingError.INVALID_REQUEST.with("tools[" + i + "] has no function name", "tools[" + i + "].function.name");
            }
        }
    }
}
