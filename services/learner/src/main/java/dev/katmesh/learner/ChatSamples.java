package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.training.TrainingSample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Trajectories without token ids (SFT files, deployed agents' JSON) made trainable: the conversation is
 * rendered with the model's chat template one message at a time, so each message's tokens are known;
 * the tokens an assistant message adds after the generation prompt get a loss term. Under error-masked
 * SFT, assistant turns whose tool calls failed (nonzero exit or an error class on their step) get none,
 * but stay in the context of the turns after them.
 */
final class ChatSamples {

    private final ChatTemplate template;
    private final PolicyTokenizer tokenizer;

    ChatSamples(ChatTemplate template, PolicyTokenizer tokenizer) {
        this.template = template;
        this.tokenizer = tokenizer;
    }

    /** Plain text for language modelling: every token after the first is trainable. */
    TrainingSample text(String text) {
        int[] ids = tokenizer.encode(text);
        boolean[] trainable = new boolean[ids.length];
        Arrays.fill(trainable, true);
        float[] lp = new float[ids.length];
        Arrays.fill(lp, Float.NaN);
        return new TrainingSample(ids, trainable, lp, 1);
    }

    TrainingSample of(Trajectory t, boolean errorMasked) {
        List<Map<String, Object>> messages = ChatMaps.messages(t.getMessagesList());
        List<Map<String, Object>> tools = ChatMaps.tools(t.getToolsList());
        Set<Integer> failed = errorMasked ? failedTurns(t) : Set.of();
        int[] ids = new int[0];
        List<int[]> spans = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).get("role").equals("assistant") && !failed.contains(i)) {
                int start = tokenizer.encode(template.render(messages.subList(0, i), tools, true)).length;
                ids = tokenizer.encode(template.render(messages.subList(0, i + 1), tools, false));
                spans.add(new int[] {start, ids.length});
            } else {
                ids = tokenizer.encode(template.render(messages.subList(0, i + 1), tools, false));
            }
        }
        boolean[] trainable = new boolean[ids.length];
        for (int[] span : spans) {
            for (int k = Math.max(1, span[0]); k < Math.min(span[1], ids.length); k++) {
                trainable[k] = true;
            }
        }
        float[] lp = new float[ids.length];
        Arrays.fill(lp, Float.NaN);
        return new TrainingSample(ids, trainable, lp, 1);
    }

    /** Indexes of assistant messages with a tool call whose step failed. */
    static Set<Integer> failedTurns(Trajectory t) {
        Set<String> failedCalls = new HashSet<>();
        for (ToolStep s : t.getStepsList()) {
            if (!s.getErrorClass().isEmpty() || (s.hasExitCode() && s.getExitCode() != 0)) {
                failedCalls.add(s.getToolCallId());
            }
        }
        Set<Integer> out = new HashSet<>();
        for (int i = 0; i < t.getMessagesCount(); i++) {
            for (ToolCall c : t.getMessages(i).getToolCallsList()) {
                if (failedCalls.contains(c.getId())) {
                    out.add(i);
                }
            }
        }
        return out;
    }
}
