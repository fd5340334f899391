package dev.katmesh.it;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.SamplingParams;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Malformed and hostile requests for inference's two entry points, each with what a client must get:
 * the OpenAI-compatible HTTP API (a 4xx status with OpenAI's error object) and gRPC (a status that is
 * neither OK nor a server fault). Used by InferenceIT, which also checks the service is healthy and
 * serves a good request afterwards.
 */
final class BadRequestCorpus {

    /**
     * One HTTP request. {@code status} is the exact status expected, or 0 for "some 4xx"; {@code openAiError}
     * whether the body must be OpenAI's {"error":{"message","type"}} object.
     */
    record Http(
            String name,
            String method,
            String path,
            String authorization,
            String contentType,
            byte[] body,
            int status,
            boolean openAiError) {}

    /** One gRPC Generate request that must be refused. */
    record Grpc(String name, GenerateRequest request) {}

    private BadRequestCorpus() {}

    static List<Http> http(String key, String model) {
        String bearer = "Bearer " + key;
        List<Http> c = new ArrayList<>();
        String msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        String m = "\"model\":\"" + model + "\"";
        // the body itself
        chat(c, "no-body", bearer, null, 400);
        chat(c, "empty-body", bearer, "", 400);
        chat(c, "json-null", bearer, "null", 400);
        chat(c, "json-array", bearer, "[]", 400);
        chat(c, "json-number", bearer, "42", 400);
        chat(c, "json-string", bearer, "\"hello\"", 400);
        chat(c, "truncated-json", bearer, "{" + m + ",", 400);
        chat(c, "trailing-garbage", bearer, "{" + m + "," + msgs + "} trailing", 400);
        chat(c, "nesting-bomb", bearer, "[".repeat(100_000), 400);
        c.add(new Http(
                "invalid-utf8",
                "POST",
                "/v1/chat/completions",
                bearer,
                "application/json",
                ("{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"\u00ff\u00fe\"}]}")
                        .getBytes(StandardCharsets.ISO_8859_1),
                0,
                true));
        // messages
        chat(c, "no-messages", bearer, "{" + m + "}", 400);
        chat(c, "messages-null", bearer, "{" + m + ",\"messages\":null}", 400);
        chat(c, "messages-string", bearer, "{" + m + ",\"messages\":\"hi\"}", 400);
        chat(c, "messages-object", bearer, "{" + m + ",\"messages\":{\"role\":\"user\"}}", 400);
        chat(c, "messages-empty", bearer, "{" + m + ",\"messages\":[]}", 400);
        chat(c, "message-not-object", bearer, "{" + m + ",\"messages\":[7]}", 400);
        chat(c, "message-without-role", bearer, "{" + m + ",\"messages\":[{\"content\":\"hi\"}]}", 400);
        chat(c, "unknown-role", bearer, "{" + m + ",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}", 400);
        chat(c, "role-number", bearer, "{" + m + ",\"messages\":[{\"role\":3,\"content\":\"hi\"}]}", 400);
        chat(c, "content-number", bearer, "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400);
        chat(c, "content-object", bearer, "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":{\"a\":1}}]}", 400);
        chat(c, "content-part-number", bearer, "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[7]}]}", 400);
        chat(
                c,
                "tool-answer-without-call",
                bearer,
                "{" + m
                        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"rol"
                        + "e\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}",
                400);
        chat(
                c,
                "tool-calls-object",
                bearer,
                "{" + m + ",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}",
                400);
        chat(
                c,
                "tool-call-without-function",
                bearer,
                "{" + m + ",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\"}]}]}",
                400);
        // sampling parameters
        chat(c, "max-tokens-negative", bearer, "{" + m + "," + msgs + ",\"max_tokens\":-1}", 400);
        chat(c, "max-tokens-string", bearer, "{" + m + "," + msgs + ",\"max_tokens\":\"ten\"}", 400);
        chat(c, "max-tokens-fraction", bearer, "{" + m + "," + msgs + ",\"max_tokens\":2.5}", 400);
        chat(c, "max-tokens-huge", bearer, "{" + m + "," + msgs + ",\"max_tokens\":1000000000000}", 400);
        chat(c, "temperature-negative", bearer, "{" + m + "," + msgs + ",\"temperature\":-0.5}", 400);
        chat(c, "temperature-too-high", bearer, "{" + m + "," + msgs + ",\"temperature\":9}", 400);
        chat(c, "temperature-string", bearer, "{" + m + "," + msgs + ",\"temperature\":\"hot\"}", 400);
        chat(c, "top-p-too-high", bearer, "{" + m + "," + msgs + ",\"top_p\":1.5}", 400);
        chat(c, "top-p-negative", bearer, "{" + m + "," + msgs + ",\"top_p\":-0.1}", 400);
        chat(c, "n-zero", bearer, "{" + m + "," + msgs + ",\"n\":0}", 400);
        chat(c, "n-negative", bearer, "{" + m + "," + msgs + ",\"n\":-2}", 400);
        chat(c, "n-huge", bearer, "{" + m + "," + msgs + ",\"n\":100000}", 400);
        chat(c, "stop-number", bearer, "{" + m + "," + msgs + ",\"stop\":5}", 400);
        chat(c, "stop-too-many", bearer, "{" + m + "," + msgs + ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400);
        chat(c, "seed-string", bearer, "{" + m + "," + msgs + ",\"seed\":\"abc\"}", 400);
        chat(c, "stream-string", bearer, "{" + m + "," + msgs + ",\"stream\":\"yes\"}", 400);
        chat(c, "logprobs-string", bearer, "{" + m + "," + msgs + ",\"logprobs\":\"yes\"}", 400);
        chat(c, "top-logprobs", bearer, "{" + m + "," + msgs + ",\"logprobs\":true,\"top_logprobs\":5}", 400);
        // model and tools
        c.add(new Http(
                "unknown-model",
                "POST",
                "/v1/chat/completions",
                bearer,
                "application/json",
                utf8("{\"model\":\"gpt-17\"," + msgs + "}"),
                404,
                true));
        chat(c, "model-number", bearer, "{\"model\":5," + msgs + "}", 400);
        chat(c, "tools-object", bearer, "{" + m + "," + msgs + ",\"tools\":{}}", 400);
        chat(c, "tool-without-function", bearer, "{" + m + "," + msgs + ",\"tools\":[{\"type\":\"function\"}]}", 400);
        chat(
                c,
                "tool-without-name",
                bearer,
                "{" + m + "," + msgs + ",\"tools\":[{\"type\":\"function\",\"function\":{\"parameters\":{}}}]}",
                400);
        chat(
                c,
                "tool-type-unknown",
                bearer,
                "{" + m + "," + msgs + ",\"tools\":[{\"type\":\"retrieval\",\"function\":{\"name\":\"f\"}}]}",
                400);
        chat(c, "tool-choice-unknown", bearer, "{" + m + "," + msgs + ",\"tool_choice\":\"sometimes\"}", 400);
        chat(
                c,
                "tool-choice-names-unknown-tool",
                bearer,
                "{" + m + "," + msgs + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"ghost\"}}}",
                400);
        chat(
                c,
                "prompt-beyond-context",
                bearer,
                "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + "many words ".repeat(40_000) + "\"}]}",
                400);
        // authentication
        chat(c, "no-key", null, "{" + m + "," + msgs + "}", 401);
        chat(c, "wrong-key", "Bearer not-the-key", "{" + m + "," + msgs + "}", 401);
        chat(c, "empty-bearer", "Bearer ", "{" + m + "," + msgs + "}", 401);
        chat(
                c,
                "basic-auth",
                "Basic " + Base64.getEncoder().encodeToString(("user:" + key).getBytes(StandardCharsets.UTF_8)),
                "{" + m + "," + msgs + "}",
                401);
        // the other endpoints
        c.add(new Http(
                "completions-no-prompt",
                "POST",
                "/v1/completions",
                bearer,
                "application/json",
                utf8("{" + m + "}"),
                400,
                true));
        c.add(new Http(
                "completions-prompt-object",
                "POST",
                "/v1/completions",
                bearer,
                "application/json",
                utf8("{" + m + ",\"prompt\":{\"a\":1}}"),
                400,
                true));
        c.add(new Http(
                "completions-token-out-of-vocab",
                "POST",
                "/v1/completions",
                bearer,
                "application/json",
                utf8("{" + m + ",\"prompt\":[1,2,99999999]}"),
                400,
                true));
        c.add(new Http(
                "completions-token-negative",
                "POST",
                "/v1/completions",
                bearer,
                "application/json",
                utf8("{" + m + ",\"prompt\":[1,-2]}"),
                400,
                true));
        c.add(new Http(
                "session-unknown",
                "POST",
                "/v1/sessions/no-such-session/end",
                bearer,
                "application/json",
                utf8("{}"),
                404,
                true));
        c.add(new Http(
                "session-end-bad-json",
                "POST",
                "/v1/sessions/x/end",
                bearer,
                "application/json",
                utf8("{"),
                400,
                true));
        c.add(new Http(
                "session-end-feedback-out-of-range",
                "POST",
                "/v1/sessions/x/end",
                bearer,
                "application/json",
                utf8("{\"outcome\":{\"feedback\":7}}"),
                400,
                true));
        c.add(new Http(
                "session-end-without-key",
                "POST",
                "/v1/sessions/x/end",
                null,
                "application/json",
                utf8("{}"),
                401,
                true));
        c.add(new Http("unknown-path", "GET", "/v1/nothing-here", bearer, null, null, 404, false));
        c.add(new Http("models-without-key", "GET", "/v1/models", null, null, null, 401, true));
        return c;
    }

    static List<Grpc> grpc() {
        List<Grpc> c = new ArrayList<>();
        SamplingParams greedy = SamplingParams.newBuilder().setMaxNewTokens(4).build();
        c.add(new Grpc("empty-request", GenerateRequest.getDefaultInstance()));
        c.add(new Grpc(
                "no-prompt", GenerateRequest.newBuilder().setSampling(greedy).build()));
        c.add(new Grpc(
                "token-out-of-vocab",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(1)
                        .addPromptTokenIds(9_999_999)
                        .build()));
        c.add(new Grpc(
                "token-max-uint",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(-1)
                        .build())); // 2^32 - 1 on the wire
        c.add(new Grpc(
                "both-ids-and-messages",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(1)
                        .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                        .build()));
        c.add(new Grpc(
                "unknown-role",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addMessages(ChatMessage.newBuilder().setRole("wizard").setContent("hi"))
                        .build()));
        c.add(new Grpc(
                "temperature-negative",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(-1))));
        c.add(new Grpc(
                "temperature-nan",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(Float.NaN))));
        c.add(new Grpc(
                "temperature-infinite",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(Float.POSITIVE_INFINITY))));
        c.add(new Grpc(
                "top-p-negative",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(-0.5f))));
        c.add(new Grpc(
                "top-p-above-one",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(1.5f))));
        c.add(new Grpc(
                "top-p-nan",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(Float.NaN))));
        c.add(new Grpc(
                "stop-id-out-of-vocab",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).addStopTokenIds(9_999_999))));
        c.add(new Grpc("max-new-tokens-huge", prompt(SamplingParams.newBuilder().setMaxNewTokens(2_000_000_000))));
        GenerateRequest.Builder longPrompt = GenerateRequest.newBuilder().setSampling(greedy);
        for (int i = 0; i < 200_000; i++) {
            longPrompt.addPromptTokenIds(5);
        }
        c.add(new Grpc("prompt-beyond-context", longPrompt.build()));
        c.add(new Grpc(
                "tool-without-name",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                        .addTools(ToolSchema.newBuilder())
                        .build()));
        // Conversations that break the reward's rules (ChatValidation), each a different rule or place.
        ChatMessage user = ChatMessage.newBuilder()
                .setRole("user")
                .setContent("list files")
                .build();
        ChatMessage calls = ChatMessage.newBuilder()
                .setRole("assistant")
                .addToolCalls(ToolCall.newBuilder()
                        .setId("c1")
                        .setType("function")
                        .setName("bash")
                        .setArguments("{}"))
                .build();
        ChatMessage answer = ChatMessage.newBuilder()
                .setRole("tool")
                .setToolCallId("c1")
                .setContent("a.py")
                .build();
        ToolSchema bash =
                ToolSchema.newBuilder().setType("function").setName("bash").build();
        c.add(chat(
                "role-empty", List.of(ChatMessage.newBuilder().setContent("hi").build()), List.of()));
        c.add(chat(
                "role-capitalised",
                List.of(ChatMessage.newBuilder()
                        .setRole("User")
                        .setContent("hi")
                        .build()),
                List.of()));
        c.add(chat(
                "role-legacy-function",
                List.of(
                        user,
                        ChatMessage.newBuilder()
                                .setRole("function")
                                .setContent("x")
                                .build()),
                List.of()));
        c.add(chat(
                "role-unknown-mid-conversation",
                List.of(
                        user,
                        calls,
                        answer,
                        ChatMessage.newBuilder().setRole("narrator").build()),
                List.of(bash)));
        c.add(chat(
                "tool-call-without-id",
                List.of(
                        user,
                        ChatMessage.newBuilder()
                                .setRole("assistant")
                                .addToolCalls(ToolCall.newBuilder()
                                        .setType("function")
                                        .setName("bash"))
                                .build()),
                List.of(bash)));
        c.add(chat(
                "tool-call-without-name",
                List.of(
                        user,
                        ChatMessage.newBuilder()
                                .setRole("assistant")
                                .addToolCalls(ToolCall.newBuilder().setId("c1").setType("function"))
                                .build()),
                List.of(bash)));
        c.add(chat("tool-call-id-used-twice", List.of(user, calls, answer, calls), List.of(bash)));
        c.add(chat(
                "tool-call-id-twice-in-one-message",
                List.of(
                        user,
                        calls.toBuilder().addToolCalls(calls.getToolCalls(0)).build()),
                List.of(bash)));
        c.add(chat(
                "tool-call-in-a-user-message",
                List.of(user.toBuilder()
                        .addToolCalls(ToolCall.newBuilder().setName("bash"))
                        .build()),
                List.of(bash)));
        c.add(chat(
                "tool-answer-to-unknown-call",
                List.of(user, calls, answer.toBuilder().setToolCallId("c9").build()),
                List.of(bash)));
        c.add(chat(
                "tool-answer-without-call-id",
                List.of(user, calls, answer.toBuilder().clearToolCallId().build()),
                List.of(bash)));
        c.add(chat("tool-answer-first", List.of(answer, user), List.of(bash)));
        c.add(chat("tool-answer-before-its-call", List.of(user, answer, calls), List.of(bash)));
        c.add(chat(
                "tool-type-retrieval",
                List.of(user),
                List.of(bash.toBuilder().setType("retrieval").build())));
        c.add(chat(
                "tool-name-blank",
                List.of(user),
                List.of(bash.toBuilder().setName("   ").build())));
        c.add(chat(
                "second-tool-nameless",
                List.of(user),
                List.of(bash, ToolSchema.newBuilder().setType("function").build())));
        c.add(new Grpc(
                "tools-without-messages",
                GenerateRequest.newBuilder().setSampling(greedy).addTools(bash).build()));
        c.add(new Grpc(
                "ids-and-messages-and-tools",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(1)
                        .addMessages(user)
                        .addTools(bash)
                        .build()));
        // Token ids and sampling values at and beyond their limits (uint32 on the wire: negative ints are above 2^31).
        c.add(new Grpc(
                "token-2^31",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(Integer.MIN_VALUE)
                        .build()));
        c.add(new Grpc(
                "token-out-of-vocab-last",
                GenerateRequest.newBuilder()
                        .setSampling(greedy)
                        .addPromptTokenIds(1)
                        .addPromptTokenIds(2)
                        .addPromptTokenIds(1 << 30)
                        .build()));
        c.add(new Grpc(
                "temperature-above-100",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(101))));
        c.add(new Grpc(
                "temperature-max-float",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(Float.MAX_VALUE))));
        c.add(new Grpc(
                "temperature-minus-infinity",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTemperature(Float.NEGATIVE_INFINITY))));
        c.add(new Grpc(
                "top-p-infinite",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(Float.POSITIVE_INFINITY))));
        c.add(new Grpc(
                "top-p-minus-infinity",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(Float.NEGATIVE_INFINITY))));
        c.add(new Grpc(
                "top-p-tiny-negative",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).setTopP(-1e-9f))));
        c.add(new Grpc("max-new-tokens-2^31", prompt(SamplingParams.newBuilder().setMaxNewTokens(Integer.MIN_VALUE))));
        c.add(new Grpc(
                "max-new-tokens-max-uint", prompt(SamplingParams.newBuilder().setMaxNewTokens(-1))));
        c.add(new Grpc(
                "max-new-tokens-a-million", prompt(SamplingParams.newBuilder().setMaxNewTokens(1_000_000))));
        c.add(new Grpc(
                "stop-id-max-uint",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).addStopTokenIds(-1))));
        c.add(new Grpc(
                "stop-id-2^31",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).addStopTokenIds(Integer.MIN_VALUE))));
        c.add(new Grpc(
                "stop-id-bad-among-good",
                prompt(SamplingParams.newBuilder()
                        .setMaxNewTokens(4)
                        .addStopTokenIds(1)
                        .addStopTokenIds(2)
                        .addStopTokenIds(1 << 29))));
        c.add(new Grpc(
                "stop-string-empty",
                prompt(SamplingParams.newBuilder().setMaxNewTokens(4).addStop(""))));
        c.add(new Grpc(
                "stop-string-empty-among-others",
                prompt(SamplingParams.newBuilder()
                        .setMaxNewTokens(4)
                        .addStop("\n")
                        .addStop(""))));
        return c;
    }

    private static Grpc chat(String name, List<ChatMessage> messages, List<ToolSchema> tools) {
        return new Grpc(
                name,
                GenerateRequest.newBuilder()
                        .setSampling(SamplingParams.newBuilder().setMaxNewTokens(4))
                        .addAllMessages(messages)
                        .addAllTools(tools)
                        .build());
    }

    private static GenerateRequest prompt(SamplingParams.Builder sampling) {
        return GenerateRequest.newBuilder()
                .setSampling(sampling)
                .addPromptTokenIds(1)
                .addPromptTokenIds(89)
                .build();
    }

    private static void chat(List<Http> c, String name, String authorization, String body, int status) {
        c.add(new Http(
                name,
                "POST",
                "/v1/chat/completions",
                authorization,
                "application/json",
                body == null ? null : utf8(body),
                status,
                true));
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
