package dev.katmesh.rollout;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.List;

/** What an episode needs from the served policy (the inference service over gRPC: {@link PolicyClient}). */
interface Policy {

    /** A generated turn: ids, behaviour log-probs, the version of each token, text, finish reason. */
    record Generated(int[] tokens, float[] logprobs, long[] versions, String text, String finishReason) {}

    /** The conversation rendered with the chat template and the generation prompt, tokenized. */
    int[] render(List<ChatMessage> messages, List<ToolSchema> tools);

    /** The tokens the messages after the first {@code after} add (to append to the exact ids so far). */
    int[] continuation(List<ChatMessage> messages, List<ToolSchema> tools, int after);

    Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed);

    /** The model's end-of-turn token (its first end-of-sequence id). */
    int endOfTurn();
}
