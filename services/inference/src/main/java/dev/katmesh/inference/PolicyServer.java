package dev.katmesh.inference;

import ai.djl.ndarray.NDArray;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.policy.ServedAdapters;
import dev.katmesh.proto.json.ChatMaps;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ToolSchema;
import io.quarkus.runtime.Startup;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jboss.logging.Logger;

/** The served policy: the model, its tokenizer and chat template, and the continuous batcher in front of it. */
@Startup
@ApplicationScoped
public class PolicyServer {

    private static final Logger LOG = Logger.getLogger(PolicyServer.class);

    /** Raised when no model is configured: UNAVAILABLE / 503. */
    public static final class NoModelException extends RuntimeException {
        NoModelException() {
            super("no model is loaded: set katmesh.inference.model-dir to a Hugging Face checkpoint folder");
        }
    }

    @Inject
    InferenceSettings settings;

    private PolicyModel model;
    private ContinuousBatcher batcher;
    private ServedAdapters adapters; // decode thread only, inside installations
    private String name = "none";

    @PostConstruct
    void start() {
        Optional<String> dir = settings.modelDir().filter(d -> !d.isBlank());
        if (dir.isEmpty()) {
            LOG.warn(
                    "katmesh.inference.model-dir is not set: generation requests are refused until a model is configured");
            return;
        }
        Path path = Path.of(dir.get());
        model = PolicyModel.load(path, PolicyModel.device(settings.device()));
        name = settings.modelName().orElse(path.getFileName().toString());
        KvBudget kv = KvBudget.of(model.config(), settings.kvCacheMemory().asLongValue(), settings.maxBatchTokens());
        adapters = new ServedAdapters(settings.swap().mergeAdapters(), 0);
        batcher = new ContinuousBatcher(
                model.decoder(),
                0,
                new ContinuousBatcher.Limits(settings.maxRunning(), kv.tokens(), settings.maxQueued()));
        LOG.infof(
                "serving %s (%s, %d layers) from %s; %s",
                name, model.config().architecture(), model.config().numLayers(), path, kv);
    }

    public boolean loaded() {
        return model != null;
    }

    public PolicyModel model() {
        if (model == null) {
            throw new NoModelException();
        }
        return model;
    }

    /**
     * Installs {@code weights} as policy version {@code version} between two decode steps; completes with the
     * time the swap itself took, in nanoseconds (requests in flight go on with the new weights).
     */
    public CompletableFuture<Long> swap(long version, Map<String, SafeTensors.Tensor> weights) {
        model();
        return batcher.swap(version, weights);
    }

    /**
     * Installs policy version {@code version} between two decode steps: the full version's weights staged in engine
     * memory ({@code weights}, for {@code weightsVersion}; null: keep those served), with {@code adapters} on them
     * (null: none), which this takes over. The caller closes the staged weights after the future completes.
     */
    public CompletableFuture<Long> install(
            long version, long weightsVersion, Map<String, NDArray> weights, LoraAdapters adapters) {
        model();
        ServedAdapters served = this.adapters;
        return batcher.install(version, m -> served.install(m, weightsVersion, weights, adapters));
    }

    /** The full version whose weights serve now (an adapter version's base, or the version itself). */
    public long weightsVersion() {
        return adapters == null ? 0 : adapters.weightsVersion();
    }

    /** Requests running and queued now (zeros without a model). */
    public ContinuousBatcher.Stats stats() {
        return batcher == null ? new ContinuousBatcher.Stats(0, 0, 0, 0, 0) : batcher.stats();
    }

    public String name() {
        return name;
    }

    /** Throws MODEL_NOT_FOUND (naming the served model) unless {@code model} is it; NO_MODEL when none is loaded. */
    void requireModel(String model) {
        model(); // 503 before 404 when nothing is served
        if (!model.equals(name)) {
            throw ServingError.MODEL_NOT_FOUND.with(
                    "The model '" + model + "' does not exist; this server serves '" + name + "'", "model");
        }
    }

    /** New tokens a prompt of {@code promptTokens} leaves room for: the context, or the batch-token limit, minus it. */
    int room(int promptTokens) {
        model(); // NO_MODEL when none is served
        ContinuousBatcher.Limits limits = batcher.limits();
        return Math.min(model().config().maxPositionEmbeddings(), limits.maxBatchTokens()) - promptTokens;
    }

    /** The version serving now (0 = the weights loaded from model-dir). */
    public long version() {
        return batcher == null ? 0 : batcher.version();
    }

    /** The prompt ids of a conversation: the chat template with the generation prompt, tokenized. */
    public int[] chatPrompt(List<ChatMessage> messages, List<ToolSchema> tools, Map<String, Object> variables) {
        return model().tokenizer().encode(render(messages, tools, true, variables));
    }

    /**
     * {@code prefix} followed by the tokens of what {@code text} adds after the prefix's own text, when
     * {@code text} starts with it (the prefix's ids are kept exactly as sampled); empty otherwise.
     */
    public Optional<int[]> extend(int[] prefix, String text) {
        String before = model().tokenizer().decode(prefix);
        if (!text.startsWith(before)) {
            return Optional.empty();
        }
        int[] delta = model().tokenizer().encode(text.substring(before.length()));
        int[] out = Arrays.copyOf(prefix, prefix.length + delta.length);
        System.arraycopy(delta, 0, out, prefix.length, delta.length);
        return Optional.of(out);
    }

    /**
     * What {@code full} adds after {@code head}, counted from the end of the last end-of-turn token in
     * {@code head} (an agent's context ends with the model's own end-of-turn token, not with what the
     * template writes after it); empty when {@code full} does not start with {@code head}.
     */
    public Optional<String> continuation(String head, String full) {
        List<String> marks = model().config().eosTokenIds().stream()
                .map(id -> model().tokenizer().decode(new int[] {id}))
                .toList();
        return ChatTemplate.continuation(head, full, marks);
    }

    /** The conversation as the chat template renders it, with the request's extra template variables. */
    public String render(
            List<ChatMessage> messages,
            List<ToolSchema> tools,
            boolean generationPrompt,
            Map<String, Object> variables) {
        return model().chatTemplate()
                .render(
                        ChatMaps.messages(messages),
                        tools.isEmpty() ? null : ChatMaps.tools(tools),
                        generationPrompt,
                        variables);
    }

    /** Starts a request (see {@link ContinuousBatcher#submit}). */
    public ContinuousBatcher.Handle submit(
            int[] prompt, SamplingParams params, long deadlineNanos, ContinuousBatcher.Listener listener) {
        model();
        return batcher.submit(prompt, params, deadlineNanos, listener);
    }

    @PreDestroy
    void stop() {
        if (batcher != null) {
            batcher.close();
        }
        if (model != null) {
            model.close();
        }
    }
}
