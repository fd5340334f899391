package dev.katmesh.tasks;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import java.util.ArrayList;
import java.util.List;

/**
 * What an {@link Episode} needs from a policy: the inference service over gRPC (the rollout service's
 * client) or a model in the same process (the learner's held-out evaluation).
 */
public interface AgentPolicy {

    /** A generated turn: ids, behaviour log-probs, the version of each token, text, finish reason. */
    record Generated(int[] tokens, float[] logprobs, long[] versions, String text, String finishReason) {}

    /** The conversation rendered with the chat template and the generation prompt, tokenized. */
    int[] render(List<ChatMessage> messages, List<ToolSchema> tools);

    /** The tokens the messages after the first {@code after} add (to append to the exact ids so far). */
    int[] continuation(List<ChatMessage> messages, List<ToolSchema> tools, int after);

    Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed);

    /**
     * Several generations at once (one per prompt, with its own token budget and seed); a policy that
     * decodes a batch in one loop overrides this.
     */
    default List<Generated> generateAll(
            List<int[]> prompts, int[] maxNewTokens, float temperature, float topP, long[] seeds) {
        List<Generated> out = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            out.add(generate(prompts.get(i), maxNewTokens[i], temperature, topP, seeds[i]));
        }
        return out;
    }

    /** The model's end-of-turn token (its first end-of-sequence id). */
    int endOfTurn();
}
