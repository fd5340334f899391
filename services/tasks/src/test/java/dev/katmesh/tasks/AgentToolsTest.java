package dev.katmesh.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.sandbox.BubblewrapSandbox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's tools, executed for real in the sandbox; faults become classified observations. */
class AgentToolsTest {

    final AgentTools tools = new AgentTools(new BubblewrapSandbox(), Duration.ofSeconds(10));

    @Test
    void toolsDoWhatTheySay(@TempDir Path ws) throws Exception {
        AgentTools.Result w = tools.execute("write_file", "{\"path\":\"src/a.py\",\"content\":\"print(6*7)\\n\"}", ws);
        assertEquals("", w.errorClass(), w.output());
        AgentTools.Result r = tools.execute("read_file", "{\"path\":\"src/a.py\"}", ws);
        assertEquals("print(6*7)\n", r.output());
        AgentTools.Result b = tools.execute("bash", "{\"command\":\"python3 src/a.py\"}", ws);
        assertEquals("", b.errorClass(), b.output());
        assertTrue(b.output().startsWith("42\n"), b.output());
        AgentTools.Result fail = tools.execute("bash", "{\"command\":\"exit 3\"}", ws);
        assertEquals("nonzero_exit", fail.errorClass());
        assertEquals(3, fail.exitCode());
        AgentTools.Result s = tools.execute("submit", "{\"path\":\"src/a.py\"}", ws);
        assertEquals("src/a.py", s.submittedPath());
        assertEquals("print(6*7)\n", AgentTools.readSubmission(ws, s.submittedPath()));
    }

    @Test
    void faultsAreObservationsWithTheirClass(@TempDir Path ws) throws Exception {
        assertEquals("malformed_call", tools.execute("bash", "{not json", ws).errorClass());
        assertEquals(
                "malformed_call", tools.execute("bash", "{\"cmd\":\"ls\"}", ws).errorClass());
        assertEquals("malformed_call", tools.execute("rm_rf", "{}", ws).errorClass());
        assertEquals(
                "rejected_edit",
                tools.execute("write_file", "{\"path\":\"../escape\",\"content\":\"x\"}", ws)
                        .errorClass());
        assertEquals(
                "rejected_edit",
                tools.execute("read_file", "{\"path\":\"/etc/passwd\"}", ws).errorClass());
        assertEquals(
                "tool_error",
                tools.execute("submit", "{\"path\":\"missing.py\"}", ws).errorClass());
        assertTrue(Files.notExists(ws.resolveSibling("escape")), "nothing written outside the workspace");
        assertEquals(
                "timeout",
                new AgentTools(new BubblewrapSandbox(), Duration.ofSeconds(1))
                        .execute("bash", "{\"command\":\"sleep 30\"}", ws)
                        .errorClass());
    }
}
