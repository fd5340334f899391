package dev.katmesh.proto.chat;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a conversation of the contract must satisfy: known roles, tool calls with an id and a name, each
 * call id made once, a tool message answering a call an earlier message made, function tools with a
 * name. Inference checks requests at the door and the reward service checks trajectories; one home for
 * the rules so a request inference serves never becomes a captured session the reward dead-letters.
 */
public final class ConversationRules {

    /** Which side checks: a request to be rendered and served, or a trajectory an agent recorded. */
    public enum Mode {
        /**
         * A request inference renders with the chat template: only the roles the template renders (a
         * "developer" message would be dropped silently), and a tool message must say which call it answers.
         */
        REQUEST(Set.of("system", "user", "assistant", "tool")),
        /**
         * A recorded trajectory (any agent's format): "developer" is accepted as OpenAI's name for system
         * instructions, and a tool message may omit its call id (formats that answer calls in order).
         */
        RECORD(Set.of("system", "user", "assistant", "tool", "developer"));

        private final Set<String> roles;

        Mode(Set<String> roles) {
            this.roles = roles;
        }

        public Set<String> roles() {
            return roles;
        }
    }

    /** A missing field or a field with a bad value. */
    public enum Problem {
        MISSING_FIELD,
        INVALID_VALUE
    }

    /**
     * The first broken rule.
     *
     * @param field the field in OpenAI's request naming ({@code messages[3].tool_call_id}, {@code tools[0].type})
     */
    public record Violation(Problem problem, String field, String message) {}

    private ConversationRules() {}

    /** The first rule {@code messages} break, if any. */
    public static Optional<Violation> check(List<ChatMessage> messages, Mode mode) {
        Set<String> calls = new HashSet<>();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            String at = "messages[" + i + "]";
            if (!mode.roles().contains(m.getRole())) {
                return violation(
                        Problem.INVALID_VALUE,
                        at + ".role",
                        at + ".role '" + m.getRole() + "' is not one of "
                                + String.join(
                                        ", ", mode.roles().stream().sorted().toList()));
            }
            for (ToolCall c : m.getToolCallsList()) {
                if (c.getId().isBlank() || c.getName().isBlank()) {
                    return violation(
                            Problem.MISSING_FIELD,
                            at + ".tool_calls",
                            at + " has a tool call without id or function name");
                }
                if (!calls.add(c.getId())) {
                    return violation(
                            Problem.INVALID_VALUE,
                            at + ".tool_calls",
                            "tool call id '" + c.getId() + "' is used twice");
                }
            }
            boolean named = !m.getToolCallId().isEmpty();
            if (m.getRole().equals("tool") && (named || mode == Mode.REQUEST) && !calls.contains(m.getToolCallId())) {
                return violation(
                        Problem.INVALID_VALUE,
                        at + ".tool_call_id",
                        at + " answers tool call '" + m.getToolCallId() + "', which no earlier assistant message made");
            }
        }
        return Optional.empty();
    }

    /** The first rule {@code tools} break, if any: only function tools, each with a name. */
    public static Optional<Violation> checkTools(List<ToolSchema> tools) {
        for (int i = 0; i < tools.size(); i++) {
            String at = "tools[" + i + "]";
            String type = tools.get(i).getType();
            if (!type.isEmpty() && !type.equals("function")) {
                return violation(
                        Problem.INVALID_VALUE,
                        at + ".type",
                        at + ".type '" + type + "' is not supported (only \"function\")");
            }
            if (tools.get(i).getName().isBlank()) {
                return violation(Problem.MISSING_FIELD, at + ".function.name", at + " has no function name");
            }
        }
        return Optional.empty();
    }

    private static Optional<Violation> violation(Problem problem, String field, String message) {
        return Optional.of(new Violation(problem, field, message));
    }
}
