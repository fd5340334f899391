package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.fuzz.ByteMutations;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * A bounded-time fuzz of inference's request parsers: mutated OpenAI chat, completions and Responses bodies,
 * Anthropic Messages bodies (JSON) and gRPC
 * GenerateRequests (protobuf) must parse, or be refused as the client's fault (a JSON syntax error or an
 * INVALID_REQUEST naming the problem: HTTP 400 / INVALID_ARGUMENT) — never another exception, which the
 * service would answer with a 500.
 */
class RequestParsingFuzzTest {

    static final long BUDGET_MS = Long.getLong("katmesh.fuzz.ms", 4000);
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static final String CHAT = """
            {"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"list files"}]},
             {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"bash","arguments":"{\\"cmd\\":\\"ls\\"}"}}]},
             {"role":"tool","tool_call_id":"c1","content":"a.py"}],
             "tools":[{"type":"function","function":{"name":"bash","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}}}}],
             "tool_choice":{"type":"function","function":{"name":"bash"}},"max_tokens":8,"temperature":0.5,"top_p":0.9,"seed":7,"n":2,
             "stop":["\\n\\n"],"stream":true,"stream_options":{"include_usage":true},"logprobs":true}
            """;
    static final String COMPLETION = """
            {"model":"m","prompt":[1,2,3],"max_tokens":4,"temperature":0,"stop":"x","logprobs":1,"seed":3}
            """;

    @Test
    void mutatedOpenAiBodiesAreParsedOrRefusedAsBadRequests() {
        int[] outcomes = run(
                new byte[][] {CHAT.getBytes(StandardCharsets.UTF_8), COMPLETION.getBytes(StandardCharsets.UTF_8)},
                (input) -> {
                    JsonNode body;
                    try {
                        body = JSON.readTree(input.bytes());
                    } catch (JacksonException e) {
                        return; // a 400 "not JSON" in OpenAiApi
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                    if (input.seed() == 0) {
                        GenerationRequest.chat(body, 512, 8);
                    } else {
                        GenerationRequest.completion(body, 8);
                    }
                });
        assertTrue(
                outcomes[0] > 0 && outcomes[1] > 0,
                "the fuzz both accepted and refused some bodies: " + outcomes[0] + " / " + outcomes[1]);
    }

    static final String MESSAGES = """
            {"model":"m","max_tokens":8,"stream":true,"temperature":0.5,"top_k":3,"stop_sequences":["END"],
             "metadata":{"user_id":"u"},"system":[{"type":"text","text":"be brief"}],
             "tools":[{"name":"bash","input_schema":{"type":"object","properties":{"cmd":{"type":"string"}}}}],
             "tool_choice":{"type":"tool","name":"bash"},
             "messages":[{"role":"user","content":"list files"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"t"},{"type":"tool_use","id":"t1","name":"bash","input":{"cmd":"ls"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a.py"}]},{"type":"text","text":"ok"}]}]}
            """;
    static final String RESPONSES = """
            {"model":"m","instructions":"be brief","max_output_tokens":8,"stream":true,"store":false,"prompt_cache_key":"k",
             "tools":[{"type":"function","name":"bash","parameters":{"type":"object"}},{"type":"custom","name":"apply_patch"}],
             "tool_choice":"auto","input":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"d"}]},
              {"role":"user","content":"list files"},{"type":"reasoning","summary":[{"type":"summary_text","text":"s"}]},
              {"type":"function_call","call_id":"c1","name":"bash","arguments":"{}"},
              {"type":"function_call_output","call_id":"c1","output":"a.py"},
              {"type":"custom_tool_call","call_id":"c2","name":"apply_patch","input":"p"},
              {"type":"custom_tool_call_output","call_id":"c2","output":[{"type":"input_text","text":"done"}]}]}
            """;

    @Test
    void mutatedMessagesAndResponsesBodiesAreParsedOrRefusedAsBadRequests() {
        int[] outcomes = run(
                new byte[][] {MESSAGES.getBytes(StandardCharsets.UTF_8), RESPONSES.getBytes(StandardCharsets.UTF_8)},
                (input) -> {
                    JsonNode body;
                    try {
                        body = JSON.readTree(input.bytes());
                    } catch (JacksonException e) {
                        return; // a 400 "not JSON" in the API
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                    if (input.seed() == 0) {
                        MessagesRequest.parse(body);
                    } else {
                        ResponsesRequest.parse(body, 512, id -> {
                            throw ServingError.INVALID_REQUEST.with("no stored response " + id, "previous_response_id");
                        });
                    }
                });
        assertTrue(
                outcomes[0] > 0 && outcomes[1] > 0,
                "the fuzz both accepted and refused some bodies: " + outcomes[0] + " / " + outcomes[1]);
    }

    @Test
    void mutatedGenerateRequestsAreParsedOrRefusedAsBadRequests() {
        GenerateRequest seed = GenerateRequest.newBuilder()
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("list files"))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setType("function")
                                .setName("bash")
                                .setArguments("{}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c1")
                        .setContent("a.py"))
                .addTools(ToolSchema.newBuilder().setType("function").setName("bash"))
                .build();
        int[] outcomes = run(
                new byte[][] {
                    seed.toByteArray(),
                    GenerateRequest.newBuilder()
                            .addPromptTokenIds(1)
                            .addPromptTokenIds(2)
                            .build()
                            .toByteArray()
                },
                input -> {
                    GenerateRequest r;
                    try {
                        r = GenerateRequest.parseFrom(input.bytes());
                    } catch (InvalidProtocolBufferException e) {
                        return; // gRPC answers INTERNAL "unparseable" before the service sees it; InferenceIT checks
                        // the status
                    }
                    ChatValidation.check(r.getMessagesList(), r.getToolsList());
                });
        assertTrue(outcomes[0] > 0, "some mutated requests parse and pass: " + outcomes[0]);
    }

    record Input(byte[] bytes, int seed) {}

    /** Mutates the seeds until the budget is spent; returns {accepted, refused}. Fails on any other exception. */
    static int[] run(byte[][] seeds, Consumer<Input> parse) {
        SplittableRandom random = new SplittableRandom(20261129);
        long deadline = System.currentTimeMillis() + BUDGET_MS;
        int[] outcomes = new int[2];
        for (int cases = 0; System.currentTimeMillis() < deadline || cases < 2000; cases++) {
            int k = cases % seeds.length;
            byte[] input = ByteMutations.mutate(seeds[k], seeds[(k + 1) % seeds.length], random);
            try {
                parse.accept(new Input(input, k));
                outcomes[0]++;
            } catch (ServingError.ServingException e) {
                assertEquals(
                        ServingError.INVALID_REQUEST,
                        e.error,
                        "a client's mistake is INVALID_REQUEST: " + e.getMessage());
                assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "a refusal says why");
                outcomes[1]++;
            } catch (RuntimeException | StackOverflowError e) {
                fail(
                        "case " + cases + " (" + new String(input, StandardCharsets.UTF_8) + " / "
                                + HexFormat.of().formatHex(input) + ") crashed the parser: " + e,
                        e);
            }
        }
        System.out.printf(
                "fuzzed with %d mutated requests: %d accepted, %d refused as INVALID_REQUEST%n",
                outcomes[0] + outcomes[1], outcomes[0], outcomes[1]);
        return outcomes;
    }
}
