package dev.katmesh.launcher.demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.tasks.MidTermCorpus;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The corpus's agent form of a solution is, token for token, what the main job's template renders for the agent. */
class CorpusFormTest {

    @Test
    void theCorpusToolCallIsTheRenderedWriteFileCall() throws Exception {
        String template;
        try (InputStream in = DemoSetup.class.getResourceAsStream("/model/chat_template.jinja")) {
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        String code = "def solve(s):\n    return ','.join(w for w in s.split()[1::2] if w.endswith(\"s\"))\t# \\ é\n";
        // As the teacher writes it: arguments by name in order.
        String arguments =
                new ObjectMapper().writeValueAsString(new TreeMap<>(Map.of("path", "solution.py", "content", code)));
        List<ChatMessage> messages = List.of(
                ChatMessage.newBuilder().setRole("user").setContent("Write it.").build(),
                ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c0")
                                .setName("write_file")
                                .setArguments(arguments))
                        .build());
        String rendered = new ChatTemplate(template, Map.of()).render(ChatMaps.messages(messages), null, false);
        String call = MidTermCorpus.writeFileCall("solution.py", code);
        assertTrue(rendered.contains(call), "the corpus writes\n" + call + "\nthe template rendered\n" + rendered);
    }
}
