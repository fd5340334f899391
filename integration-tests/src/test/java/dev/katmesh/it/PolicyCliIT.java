package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;

/** `./katmesh policy ...` against the Hugging Face fixture, as a user runs it. */
class PolicyCliIT {

    static final Path FIXTURE = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode run(String... args) throws Exception {
        Mesh cli = Mesh.at(Mesh.HOME.resolve("integration-tests/target/meshes/cli"), Map.of());
        String out = cli.katmeshNoDataDir(Duration.ofMinutes(2), args);
        String last = out.lines()
                .filter(l -> l.startsWith("{"))
                .reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("no JSON in:\n" + out));
        return JSON.readTree(last);
    }

    static String csv(JsonNode ids) {
        return StreamSupport.stream(ids.spliterator(), false)
                .map(JsonNode::asText)
                .collect(Collectors.joining(","));
    }

    @Test
    void tokenizeScoreAndGenerateMatchTransformers() throws Exception {
        JsonNode reference = JSON.readTree(FIXTURE.resolve("reference.json").toFile());
        JsonNode encoding = reference.path("encodings").get(0);
        JsonNode tokenized = run(
                "policy",
                "tokenize",
                "--model",
                FIXTURE.toString(),
                "--text",
                encoding.path("text").asText());
        assertEquals(encoding.path("ids"), tokenized.path("ids"));

        JsonNode seq = reference.path("sequences").get(0);
        JsonNode generated = run(
                "policy",
                "generate",
                "--model",
                FIXTURE.toString(),
                "--ids",
                csv(tokenized.path("ids")),
                "--max-new-tokens",
                String.valueOf(seq.path("greedy_new_ids").size()),
                "--greedy");
        assertEquals(seq.path("greedy_new_ids"), generated.path("ids"), "greedy continuation");
        assertEquals(
                seq.path("greedy_new_ids").size(), generated.path("logprobs").size());

        JsonNode scored = run("policy", "score", "--model", FIXTURE.toString(), "--ids", "436,331,72,72,12");
        assertEquals(4, scored.path("logprobs").size(), "n-1 entries");
        scored.path("logprobs").forEach(lp -> assertTrue(lp.asDouble() < 0, "log-probs are negative: " + lp));

        JsonNode sampledA = run(
                "policy",
                "generate",
                "--model",
                FIXTURE.toString(),
                "--ids",
                "436,331",
                "--max-new-tokens",
                "8",
                "--temperature",
                "0.9",
                "--top-p",
                "0.95",
                "--seed",
                "5");
        JsonNode sampledB = run(
                "policy",
                "generate",
                "--model",
                FIXTURE.toString(),
                "--ids",
                "436,331",
                "--max-new-tokens",
                "8",
                "--temperature",
                "0.9",
                "--top-p",
                "0.95",
                "--seed",
                "5");
        assertEquals(sampledA.path("ids"), sampledB.path("ids"), "a seed reproduces a sample");
    }

    @Test
    void chatTemplateRendersMessagesAndTools() throws Exception {
        JsonNode reference = JSON.readTree(FIXTURE.resolve("reference.json").toFile());
        JsonNode chat = reference.path("chats").get(1);
        Path messages = Mesh.scratchFile("messages", ".json");
        Path tools = Mesh.scratchFile("tools", ".json");
        Files.writeString(messages, chat.path("messages").toString());
        Files.writeString(tools, chat.path("tools").toString());
        JsonNode out = run(
                "policy",
                "chat-template",
                "--model",
                FIXTURE.toString(),
                "--messages",
                messages.toString(),
                "--tools",
                tools.toString(),
                "--add-generation-prompt");
        assertEquals(chat.path("text").asText(), out.path("text").asText());
        assertEquals(307, out.path("ids").size(), "the tool chat is 307 tokens, as transformers counts");
    }

    @Test
    void aBadFolderIsAClearError() throws Exception {
        Mesh cli = Mesh.at(Mesh.HOME.resolve("integration-tests/target/meshes/cli"), Map.of());
        List<String> args =
                new ArrayList<>(List.of("policy", "score", "--model", "/nonexistent/model", "--ids", "1,2"));
        String out = cli.katmeshExpectingFailure(Duration.ofMinutes(1), args.toArray(String[]::new));
        assertTrue(out.contains("/nonexistent/model: not a directory"), out);
    }
}
