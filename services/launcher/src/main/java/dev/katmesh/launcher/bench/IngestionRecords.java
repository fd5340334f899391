package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The records {@link IngestionBenchmark} publishes: deployed agents' trajectories in the OpenAI chat format, a 1 KB
 * one with a single tool call, or a coding session of a chosen size. Deterministic in the record's index.
 */
final class IngestionRecords {

    private static final ObjectMapper JSON = new ObjectMapper();

    private IngestionRecords() {}

    /** A deployed agent's session in the OpenAI chat format: a tool call, its result, the answer. */
    static String trajectory(String run, int i) throws Exception {
        ObjectNode t = JSON.createObjectNode();
        t.put("trajectory_id", "bench-" + run + "-" + i);
        t.put("group_id", "bench-" + run + "-g" + (i % 64));
        t.put("agent_id", "bench-agent");
        t.put("source", "deployed");
        ArrayNode messages = t.putArray("messages");
        messages.addObject()
                .put("role", "system")
                .put("content", "You are a coding agent. Work in the current directory with the tools.");
        messages.addObject()
                .put("role", "user")
                .put(
                        "content",
                        String.format(
                                Locale.ROOT,
                                "Write solution.py with a function solve(xs) that returns the sum of the list of integers xs plus %d.",
                                i % 97));
        ObjectNode call = JSON.createObjectNode().put("id", "c0").put("type", "function");
        call.putObject("function")
                .put("name", "write_file")
                .put(
                        "arguments",
                        JSON.writeValueAsString(JSON.createObjectNode()
                                .put("path", "solution.py")
                                .put("content", "def solve(xs):\n    return sum(xs) + (" + i % 97 + ")\n")));
        ObjectNode assistant = messages.addObject().put("role", "assistant");
        assistant.putNull("content");
        assistant.putArray("tool_calls").add(call);
        messages.addObject()
                .put("role", "tool")
                .put("tool_call_id", "c0")
                .put("name", "write_file")
                .put("content", "wrote 44 bytes to solution.py");
        messages.addObject()
                .put("role", "assistant")
                .put("content", "Done: solution.py returns the sum plus " + i % 97 + ".");
        ArrayNode tools = t.putArray("tools");
        ObjectNode fn = tools.addObject().put("type", "function").putObject("function");
        fn.put("name", "write_file").put("description", "Write a file in the workspace");
        fn.set(
                "parameters",
                JSON.readTree("{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
                        + "\"content\":{\"type\":\"string\"}},\"required\":[\"path\",\"content\"]}"));
        return JSON.writeValueAsString(t);
    }

    /** Words the generated sessions' code and logs are made of: text that compresses about as source code does. */
    private static final String[] WORDS = {
        "def",
        "return",
        "self",
        "import",
        "from",
        "class",
        "if",
        "else",
        "for",
        "in",
        "range",
        "len",
        "None",
        "True",
        "False",
        "assert",
        "raise",
        "ValueError",
        "config",
        "path",
        "data",
        "items",
        "result",
        "value",
        "index",
        "count",
        "total",
        "parse",
        "load",
        "write",
        "read",
        "open",
        "with",
        "as",
        "yield",
        "lambda",
        "request",
        "response",
        "status",
        "error",
        "user",
        "session",
        "token",
        "cache",
        "key",
        "node",
        "tree"
    };

    /**
     * A coding agent's session of about {@code bytes} bytes of JSON, the size deployed sessions have (50–500 KB): a
     * task, then turns of tool calls (read a file, run the tests, edit the file) with their results (file contents,
     * test logs), and an answer. Deterministic in {@code i}.
     */
    static String session(String run, int i, int bytes) throws Exception {
        Random random = new Random(i);
        ObjectNode t = JSON.createObjectNode();
        t.put("trajectory_id", "bench-" + run + "-" + i);
        t.put("group_id", "bench-" + run + "-g" + (i % 64));
        t.put("agent_id", "bench-agent-" + (i % 8));
        t.put("source", "deployed");
        ArrayNode messages = t.putArray("messages");
        messages.addObject().put("role", "system").put("content", "You are a coding agent. Use the tools.");
        messages.addObject().put("role", "user").put("content", "Fix the failing test in module_" + i % 97 + ".");
        int size = 200;
        for (int turn = 0; size < bytes; turn++) {
            String tool = new String[] {"read_file", "run_command", "edit_file"}[turn % 3];
            String file = "src/module_" + random.nextInt(40) + ".py";
            ObjectNode arguments = JSON.createObjectNode();
            String result;
            switch (tool) {
                case "read_file" -> {
                    arguments.put("path", file);
                    result = code(random, Math.min(8000, bytes - size));
                }
                case "run_command" -> {
                    arguments.put("command", "python -m pytest -x tests/test_" + random.nextInt(40) + ".py");
                    result = "FAILED tests/test_x.py::test_case - AssertionError\n"
                            + code(random, Math.min(3000, bytes - size));
                }
                default -> {
                    arguments.put("path", file).put("new_text", code(random, Math.min(2000, bytes - size)));
                    result = "edited " + file;
                }
            }
            String id = "call_" + turn;
            ObjectNode call = JSON.createObjectNode().put("id", id).put("type", "function");
            call.putObject("function").put("name", tool).put("arguments", JSON.writeValueAsString(arguments));
            ObjectNode assistant = messages.addObject().put("role", "assistant");
            assistant.put("content", "Next I " + tool.replace('_', ' ') + " " + file + ".");
            assistant.putArray("tool_calls").add(call);
            messages.addObject().put("role", "tool").put("tool_call_id", id).put("content", result);
            size += 160 + arguments.toString().length() + result.length();
        }
        messages.addObject().put("role", "assistant").put("content", "The test passes now.");
        ArrayNode tools = t.putArray("tools");
        for (String name : List.of("read_file", "run_command", "edit_file")) {
            tools.addObject().put("type", "function").putObject("function").put("name", name);
        }
        return JSON.writeValueAsString(t);
    }

    /** About {@code chars} characters of code-like lines. */
    private static String code(Random random, int chars) {
        StringBuilder b = new StringBuilder(Math.max(0, chars) + 64);
        while (b.length() < chars) {
            b.append("    ".repeat(random.nextInt(3)));
            for (int w = 2 + random.nextInt(6); w > 0; w--) {
                b.append(WORDS[random.nextInt(WORDS.length)]).append(w > 1 ? ' ' : '\n');
            }
        }
        return b.toString();
    }
}
