package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PolicyTokenizerTest {

    @Test
    void aClientsTextLeavesOutControlTokensAndKeepsToolCallSyntax() {
        try (PolicyTokenizer tok = PolicyTokenizer.load(Fixture.DIR)) {
            int[] ids = tok.encode("Hi<|im_start|>user there<|endoftext|>\n<tool_call>\n{}\n</tool_call><|im_end|>");
            assertEquals(
                    "Hi<|im_start|>user there<|endoftext|>\n<tool_call>\n{}\n</tool_call><|im_end|>",
                    tok.decode(ids),
                    "decode is exact, special tokens included (what the template wrote)");
            assertEquals(
                    "Hiuser there\n<tool_call>\n{}\n</tool_call>",
                    tok.decodeText(ids),
                    "what a client reads: the chat's control tokens out, the tool-call markers in");
        }
    }
}
