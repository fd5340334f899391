package dev.katmesh.inference;

import dev.katmesh.proto.chat.ConversationRules;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.List;

/**
 * A conversation sent to inference, over gRPC and HTTP alike, checked against the contract's
 * {@link ConversationRules} (request mode: the roles the chat template renders) at the door.
 */
final class ChatValidation {

    private ChatValidation() {}

    /** Throws INVALID_REQUEST naming the first broken rule and its field. */
    static void check(List<ChatMessage> messages, List<ToolSchema> tools) {
        ConversationRules.check(messages, ConversationRules.Mode.REQUEST)
                .or(() -> ConversationRules.checkTools(tools))
                .ifPresent(v -> {
                    throw ServingError.INVALID_REQUEST.with(v.message(), v.field());
                });
    }
}
