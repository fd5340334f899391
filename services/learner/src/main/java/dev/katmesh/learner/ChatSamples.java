package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.training.TrainingSample;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Trajectories without token ids (SFT files, deployed agents' JSON) made trainable: the conversation is
 * rendered with the model's chat template one message at a time, so each message's tokens are known;
 * the tokens an assistant message adds after the generation prompt get a loss term. Under error-masked
 * SFT, the erroneous turns (the reward's verdicts, {@link dev.katmesh.tasks.TurnAnnotator}) get none, but stay in
 * the context of the turns after them.
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

    /**
     * A trajectory rendered by the chat template; its assistant turns are trainable, but for those in {@code masked}
     * (the erroneous turns, for error-masked SFT: {@link dev.katmesh.tasks.TurnAnnotator}), which stay in context.
     */
    TrainingSample of(Trajectory t, Set<Integer> masked) {
        List<Map<String, Object>> messages = ChatMaps.messages(t.getMessagesList());
        List<Map<String, Object>> tools = ChatMaps.tools(t.getToolsList());
        int[] ids = new int[0];
        List<int[]> spans = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            if (messages.get(i).get("role").equals("assistant") && !masked.contains(i)) {
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
}
