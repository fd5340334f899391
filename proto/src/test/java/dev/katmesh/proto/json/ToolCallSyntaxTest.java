package dev.katmesh.proto.json;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class ToolCallSyntaxTest {

    @Test
    void callsAreParsedOutOfTheContent() {
        ToolCallSyntax.Parsed p = ToolCallSyntax.parse(
                "Let me look.\n<tool_call>\n{\"name\": \"bash\", \"arguments\": {\"cmd\": \"ls -l\"}}\n</tool_call>"
                        + "\n<tool_call>\n{\"name\": \"read_file\", \"arguments\": \"{\\\"path\\\": \\\"a.py\\\"}\"}\n</tool_call>");
        assertEquals("Let me look.", p.content());
        assertEquals(
                List.of(
                        new ToolCallSyntax.Call("bash", "{\"cmd\":\"ls -l\"}"),
                        new ToolCallSyntax.Call("read_file", "{\"path\":\"a.py\"}")),
                p.calls());
        assertEquals(List.of(), p.malformed());
    }

    @Test
    void malformedOrCutOffCallsStayInTheContentAndAreReported() {
        ToolCallSyntax.Parsed p =
                ToolCallSyntax.parse("x <tool_call>{\"name\": 3}</tool_call> y <tool_call>{\"name\": \"bash\"");
        assertEquals("x <tool_call>{\"name\": 3}</tool_call> y <tool_call>{\"name\": \"bash\"", p.content());
        assertEquals(List.of(), p.calls());
        assertEquals(2, p.malformed().size(), p.malformed().toString());
    }

    @Test
    void streamingHoldsBackWhatMayBecomeACall() {
        assertEquals(5, ToolCallSyntax.contentPrefix("hello"));
        assertEquals(6, ToolCallSyntax.contentPrefix("hello <tool"));
        assertEquals(6, ToolCallSyntax.contentPrefix("hello <tool_call>{"));
        assertEquals(8, ToolCallSyntax.contentPrefix("a < b is"));
    }
}
