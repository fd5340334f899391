package dev.katmesh.proto.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.chat.ConversationRules.Mode;
import dev.katmesh.proto.chat.ConversationRules.Problem;
import dev.katmesh.proto.chat.ConversationRules.Violation;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConversationRulesTest {

    static ChatMessage msg(String role, String content) {
        return ChatMessage.newBuilder().setRole(role).setContent(content).build();
    }

    static ChatMessage call(String id, String name) {
        return ChatMessage.newBuilder()
                .setRole("assistant")
                .addToolCalls(ToolCall.newBuilder().setId(id).setName(name).setArguments("{}"))
                .build();
    }

    static ChatMessage answer(String id) {
        return ChatMessage.newBuilder()
                .setRole("tool")
                .setToolCallId(id)
                .setContent("ok")
                .build();
    }

    @Test
    void aWellFormedToolConversationPassesInBothModes() {
        List<ChatMessage> chat = List.of(
                msg("system", "s"),
                msg("user", "u"),
                call("c1", "bash"),
                answer("c1"),
                call("c2", "submit"),
                answer("c2"));
        for (Mode mode : Mode.values()) {
            assertEquals(Optional.empty(), ConversationRules.check(chat, mode), mode.name());
        }
        assertEquals(
                Optional.empty(),
                ConversationRules.checkTools(List.of(
                        ToolSchema.newBuilder()
                                .setType("function")
                                .setName("bash")
                                .build(),
                        ToolSchema.newBuilder().setName("submit").build())),
                "an empty type means function");
    }

    @Test
    void eachBrokenRuleNamesItsField() {
        assertEquals(
                new Violation(
                        Problem.INVALID_VALUE,
                        "messages[1].role",
                        "messages[1].role 'robot' is not one of assistant, system, tool, user"),
                ConversationRules.check(List.of(msg("user", "u"), msg("robot", "r")), Mode.REQUEST)
                        .orElseThrow());
        assertEquals(
                "messages[0].tool_calls",
                ConversationRules.check(List.of(call("", "bash")), Mode.RECORD)
                        .orElseThrow()
                        .field());
        assertEquals(
                Problem.MISSING_FIELD,
                ConversationRules.check(List.of(call("c", " ")), Mode.RECORD)
                        .orElseThrow()
                        .problem());
        Violation twice = ConversationRules.check(
                        List.of(call("c", "bash"), answer("c"), call("c", "bash")), Mode.RECORD)
                .orElseThrow();
        assertTrue(twice.message().contains("'c' is used twice"), twice.message());
        Violation stray = ConversationRules.check(List.of(msg("user", "u"), answer("nope")), Mode.RECORD)
                .orElseThrow();
        assertEquals("messages[1].tool_call_id", stray.field(), "a tool message answering a call nobody made");
        Violation early = ConversationRules.check(List.of(answer("c"), call("c", "bash")), Mode.REQUEST)
                .orElseThrow();
        assertEquals("messages[0].tool_call_id", early.field(), "the call must come before its answer");
        assertEquals(
                "tools[1].type",
                ConversationRules.checkTools(List.of(
                                ToolSchema.newBuilder().setName("a").build(),
                                ToolSchema.newBuilder()
                                        .setType("retrieval")
                                        .setName("b")
                                        .build()))
                        .orElseThrow()
                        .field());
        assertEquals(
                "tools[0].function.name",
                ConversationRules.checkTools(List.of(
                                ToolSchema.newBuilder().setType("function").build()))
                        .orElseThrow()
                        .field());
    }

    @Test
    void requestsAreStricterThanRecordedTrajectories() {
        List<ChatMessage> developer = List.of(msg("developer", "be brief"), msg("user", "u"));
        assertEquals(
                Optional.empty(),
                ConversationRules.check(developer, Mode.RECORD),
                "recorded OpenAI-style sessions may use developer");
        assertTrue(
                ConversationRules.check(developer, Mode.REQUEST).isPresent(),
                "the chat template would drop a developer message silently");
        List<ChatMessage> unnamedAnswer = List.of(msg("user", "u"), call("c1", "bash"), answer(""));
        assertEquals(
                Optional.empty(),
                ConversationRules.check(unnamedAnswer, Mode.RECORD),
                "formats that answer calls in order");
        assertEquals(
                "messages[2].tool_call_id",
                ConversationRules.check(unnamedAnswer, Mode.REQUEST)
                        .orElseThrow()
                        .field(),
                "a request's tool message must say which call it answers");
    }
}
