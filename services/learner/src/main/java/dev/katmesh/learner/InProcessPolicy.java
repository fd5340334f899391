package dev.katmesh.learner;

import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.tasks.AgentPolicy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The learner's own weights as an agent's policy, for the held-out evaluation: the same rendering and
 * continuation rules as the inference service, with generation in this process (no network, and the
 * exact weights of the version being evaluated).
 */
final class InProcessPolicy implements AgentPolicy {

    /** Padded prompt tokens of one generation batch. */
    static final int BATCH_TOKENS = 16384;

    private final DecoderModel model;
    private final PolicyTokenizer tokenizer;
    private final ChatTemplate template;
    private final long version;
    private final List<String> endMarks;

    InProcessPolicy(DecoderModel model, PolicyTokenizer tokenizer, ChatTemplate template, long version) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.template = template;
        this.version = version;
        this.endMarks = model.config().eosTokenIds().stream()
                .map(id -> tokenizer.decode(new int[] {id}))
                .toList();
    }

    @Override
    public int[] render(List<ChatMessage> messages, List<ToolSchema> tools) {
        return tokenizer.encode(text(messages, tools, true));
    }

    @Override
    public int[] continuation(List<ChatMessage> messages, List<ToolSchema> tools, int after) {
        String head = text(messages.subList(0, after), tools, false);
        String rest = ChatTemplate.continuation(head, text(messages, tools, true), endMarks)
                .orElseThrow(() ->
                        new IllegalStateException("the chat template does not render this conversation incrementally"));
        return tokenizer.encode(rest);
    }

    @Override
    public Generated generate(int[] prompt, int maxNewTokens, float temperature, float topP, long seed) {
        return generateAll(List.of(prompt), new int[] {maxNewTokens}, temperature, topP, new long[] {seed})
                .get(0);
    }

    /**
     * The held-out episodes' turns, decoded in batches (one decode loop each). A batch holds at most
     * {@link #BATCH_TOKENS} padded prompt tokens: the prefill's attention is quadratic in the prompt, and
     * thirty 1.5k-token contexts at once took the learner past 20 GB (decode steps cost about the same for
     * a batch as for one sequence on a CPU, so batches are as large as memory allows). Prompts are batched by length, so
     * little of a batch is padding.
     */
    @Override
    public List<Generated> generateAll(
            List<int[]> prompts, int[] maxNewTokens, float temperature, float topP, long[] seeds) {
        Integer[] order = new Integer[prompts.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt(i -> prompts.get(i).length));
        Generated[] out = new Generated[prompts.size()];
        for (int from = 0; from < order.length; ) {
            int to = from + 1;
            while (to < order.length && (to - from + 1) * (long) prompts.get(order[to]).length <= BATCH_TOKENS) {
                to++;
            }
            List<int[]> batch = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            for (int k = from; k < to; k++) {
                int i = order[k];
                batch.add(prompts.get(i));
                params.add(
                        temperature <= 0
                                ? SamplingParams.greedy(maxNewTokens[i])
                                : SamplingParams.sample(maxNewTokens[i], temperature, topP, seeds[i]));
            }
            List<Generation> gs = new Generator(model).generate(batch, params);
            for (int k = from; k < to; k++) {
                out[order[k]] = generated(gs.get(k - from));
            }
            from = to;
        }
        return List.of(out);
    }

    private Generated generated(Generation g) {
        long[] versions = new long[g.tokens().length];
        Arrays.fill(versions, version);
        int n = g.tokens().length;
        int[] visible = n > 0 && model.config().eosTokenIds().contains(g.tokens()[n - 1])
                ? Arrays.copyOf(g.tokens(), n - 1)
                : g.tokens();
        return new Generated(g.tokens(), g.logprobs(), versions, tokenizer.decode(visible), g.finishReason());
    }

    @Override
    public int endOfTurn() {
        return model.config().eosTokenIds().get(0);
    }

    private String text(List<ChatMessage> messages, List<ToolSchema> tools, boolean generationPrompt) {
        List<Map<String, Object>> t = tools.isEmpty() ? null : ChatMaps.tools(tools);
        return template.render(ChatMaps.messages(messages), t, generationPrompt);
    }
}
