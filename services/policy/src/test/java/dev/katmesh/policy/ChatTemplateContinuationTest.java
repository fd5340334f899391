package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What an agent's next turn adds to its context, under templates that re-render earlier turns. */
class ChatTemplateContinuationTest {

    private static final List<String> END = List.of("<|im_end|>");

    private static ChatTemplate qwen3() throws Exception {
        String source = Files.readString(Path.of("src/test/resources/templates/qwen3.jinja"), StandardCharsets.UTF_8);
        return new ChatTemplate(source, Map.of());
    }

    @Test
    void qwen3sToolResultsFollowAnAnswerWhoseEmptyThinkBlockTheFullRenderingDrops() throws Exception {
        ChatTemplate t = qwen3();
        Map<String, Object> call =
                Map.of("type", "function", "function", Map.of("name", "bash", "arguments", Map.of("cmd", "ls")));
        List<Map<String, Object>> messages = List.of(
                Map.of("role", "system", "content", "You are a coding agent."),
                Map.of("role", "user", "content", "List the files."),
                Map.of("role", "assistant", "content", "", "tool_calls", List.of(call)),
                Map.of("role", "tool", "content", "a.py\nb.py"));
        String head = t.render(messages.subList(0, 3), null, false);
        String full = t.render(messages, null, true);
        assertTrue(head.contains("<think>\n\n</think>"), "the last answer carries an empty think block:\n" + head);
        assertFalse(full.startsWith(head), "followed by its tool result, the answer is rendered without it:\n" + full);

        Optional<String> next = ChatTemplate.continuation(head, full, END);
        assertEquals(
                "\n<|im_start|>user\n<tool_response>\na.py\nb.py\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
                next.orElseThrow(),
                "the tool turn and the generation prompt, after the answer's end of turn");
    }

    @Test
    void aContinuingRenderingIsCutAtTheHeadsLastEndOfTurn() {
        String head = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n";
        String full = head + "<|im_start|>user\nmore<|im_end|>\n<|im_start|>assistant\n";
        assertEquals(
                "\n<|im_start|>user\nmore<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.continuation(head, full, END).orElseThrow());
    }

    @Test
    void aRenderingWithFewerTurnsThanTheHeadIsRefused() {
        assertTrue(ChatTemplate.continuation("a<|im_end|>b<|im_end|>", "x<|im_end|>", END)
                .isEmpty());
        assertTrue(ChatTemplate.continuation("no marks", "other", END).isEmpty(), "nothing to count turns by");
    }
}
