package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

/** `./katmesh sandbox run` as a user runs it. */
class SandboxCliIT {

    @Test
    void printsTheVerdictAsOneJsonObject() throws Exception {
        JsonNode timeout = PolicyCliIT.run("sandbox", "run", "--timeout", "2", "--", "sleep", "30");
        assertEquals("timeout", timeout.path("verdict").asText());
        assertEquals(137, timeout.path("exit_code").asInt());
        assertTrue(
                timeout.path("wall_ms").asLong() >= 1900
                        && timeout.path("wall_ms").asLong() < 6000,
                timeout.toString());
        JsonNode ok = PolicyCliIT.run("sandbox", "run", "--", "sh", "-c", "echo hello; echo warn >&2; exit 5");
        assertEquals("nonzero-exit", ok.path("verdict").asText());
        assertEquals(5, ok.path("exit_code").asInt());
        assertEquals("hello\n", ok.path("stdout").asText());
        assertEquals("warn\n", ok.path("stderr").asText());
        JsonNode memory = PolicyCliIT.run(
                "sandbox", "run", "--memory", "200", "--", "python3", "-c", "b = bytearray(2 * 1024 ** 3)");
        assertEquals("memory", memory.path("verdict").asText(), memory.toString());
    }
}
