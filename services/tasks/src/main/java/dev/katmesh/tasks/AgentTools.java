package dev.katmesh.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.sandbox.Sandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import dev.katmesh.sandbox.Verdict;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The agent's tools of the task suite ({@link TaskSuite#TOOLS}) executed for real: {@code bash} in the
 * sandbox, {@code write_file} and {@code read_file} inside the workspace only, {@code submit} naming
 * the answer. Every call gets an observation; faults are observations too, classified by
 * {@link Result#errorClass()} (the classes the reward's turn annotation and error-masked SFT use).
 */
public final class AgentTools {

    /** Largest observation handed back to the model. */
    public static final int MAX_OUTPUT = 4000;

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a call did.
     *
     * @param output        the observation (capped)
     * @param exitCode      bash's exit code (0 for the other tools when they succeed, 1 when they fail)
     * @param errorClass    "" when fine; else nonzero_exit, timeout, memory, output_limit, killed,
     *                      malformed_call, rejected_edit or tool_error
     * @param durationMs    wall time
     * @param submittedPath the answer's path, for a successful submit
     */
    public record Result(String output, int exitCode, String errorClass, long durationMs, String submittedPath) {
        public boolean failed() {
            return !errorClass.isEmpty();
        }
    }

    private final Sandbox sandbox;
    private final Duration bashTimeout;

    public AgentTools(Sandbox sandbox, Duration bashTimeout) {
        this.sandbox = sandbox;
        this.bashTimeout = bashTimeout;
    }

    /** Runs one call in {@code workspace}. */
    public Result execute(String tool, String argumentsJson, Path workspace) throws InterruptedException {
        long t0 = System.nanoTime();
        JsonNode args;
        try {
            args = JSON.readTree(argumentsJson.isEmpty() ? "{}" : argumentsJson);
        } catch (IOException e) {
            return fail(
                    "malformed_call",
                    "error: the arguments are not JSON: "
                            + e.getMessage().lines().findFirst().orElse(""),
                    t0);
        }
        if (args == null || !args.isObject()) {
            return fail("malformed_call", "error: the arguments must be a JSON object", t0);
        }
        try {
            return switch (tool) {
                case "bash" -> bash(text(args, "command"), workspace, t0);
                case "write_file" -> write(text(args, "path"), text(args, "content"), workspace, t0);
                case "read_file" -> read(text(args, "path"), workspace, t0);
                case "submit" -> submit(text(args, "path"), workspace, t0);
                default ->
                    fail(
                            "malformed_call",
                            "error: unknown tool '" + tool + "' (bash, write_file, read_file, submit)",
                            t0);
            };
        } catch (MissingArgument e) {
            return fail("malformed_call", "error: " + tool + " needs a string argument '" + e.getMessage() + "'", t0);
        }
    }

    private Result bash(String command, Path ws, long t0) throws InterruptedException {
        SandboxResult r;
        try {
            r = sandbox.run(
                    List.of("sh", "-c", command), ws, SandboxLimits.defaults().withWallTime(bashTimeout));
        } catch (IOException e) {
            return fail("tool_error", "error: the sandbox failed: " + e.getMessage(), t0);
        }
        String out = cap(r.stdout() + r.stderr()) + "\n[exit code " + r.exitCode() + "]";
        String errorClass = r.verdict() == Verdict.OK
                ? ""
                : r.verdict() == Verdict.NONZERO_EXIT
                        ? "nonzero_exit"
                        : r.verdict().label();
        return new Result(out, r.exitCode(), errorClass, ms(t0), "");
    }

    private Result write(String path, String content, Path ws, long t0) {
        try {
            TaskTests.write(ws, path, content.getBytes(StandardCharsets.UTF_8));
            return new Result(
                    "wrote " + content.getBytes(StandardCharsets.UTF_8).length + " bytes to " + path,
                    0,
                    "",
                    ms(t0),
                    "");
        } catch (IOException e) {
            return fail("rejected_edit", "error: " + e.getMessage(), t0);
        }
    }

    private Result read(String path, Path ws, long t0) {
        Path file = inside(ws, path);
        if (file == null) {
            return fail("rejected_edit", "error: path leaves the workspace: " + path, t0);
        }
        try {
            return new Result(cap(Files.readString(file, StandardCharsets.UTF_8)), 0, "", ms(t0), "");
        } catch (IOException e) {
            return fail(
                    "tool_error",
                    "error: cannot read " + path + ": " + e.getClass().getSimpleName(),
                    t0);
        }
    }

    private Result submit(String path, Path ws, long t0) {
        Path file = inside(ws, path);
        if (file == null || !Files.isRegularFile(file)) {
            return fail("tool_error", "error: no file " + path + " to submit", t0);
        }
        return new Result("submitted " + path, 0, "", ms(t0), path);
    }

    /** The content of a submitted file, or null when it cannot be read. */
    public static String readSubmission(Path ws, String path) {
        Path file = inside(ws, path);
        try {
            return file == null ? null : Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }

    private static Path inside(Path ws, String relative) {
        Path target = ws.resolve(relative).normalize();
        return target.startsWith(ws) && !relative.startsWith("/") ? target : null;
    }

    private static final class MissingArgument extends RuntimeException {
        MissingArgument(String name) {
            super(name, null, false, false);
        }
    }

    private static String text(JsonNode args, String name) {
        JsonNode v = args.get(name);
        if (v == null || !v.isTextual()) {
            throw new MissingArgument(name);
        }
        return v.textValue();
    }

    private static Result fail(String errorClass, String output, long t0) {
        return new Result(output, 1, errorClass, ms(t0), "");
    }

    private static long ms(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    static String cap(String s) {
        return s.length() > MAX_OUTPUT ? s.substring(0, MAX_OUTPUT) + "\n[... cut]" : s;
    }
}
