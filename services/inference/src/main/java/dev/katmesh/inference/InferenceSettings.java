package dev.katmesh.inference;

import io.quarkus.runtime.configuration.MemorySize;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The inference service's settings (application.properties, prefix katmesh.inference). */
@ConfigMapping(prefix = "katmesh.inference")
public interface InferenceSettings {

    /** The policy to serve: a Hugging Face checkpoint folder. Without it every generation is refused (UNAVAILABLE / 503). */
    Optional<String> modelDir();

    /** The name clients use in the OpenAI API's "model" field; default: the model folder's name. */
    Optional<String> modelName();

    /**
     * The credential presented to the learner's Weights service (sent as {@code authorization: Bearer ...});
     * must be one of the learner's katmesh.learner.weights-tokens.
     */
    Optional<String> weightsToken();

    /** DJL device: cpu, gpu or gpu:N. */
    @WithDefault("cpu")
    String device();

    /** Sequences decoded together at most (the running batch). */
    @WithDefault("16")
    int maxRunning();

    /**
     * Prompt + max new tokens summed over the running sequences at most; lowered to what kv-cache-memory holds
     * for the served model ({@link KvBudget}).
     */
    @WithDefault("65536")
    int maxBatchTokens();

    /**
     * The memory the running batch's KV cache may take (native memory, beside the weights): with max-batch-tokens,
     * what admission reserves each request's prompt + max new tokens against. E.g. 2G, 512M.
     */
    @WithDefault("2G")
    MemorySize kvCacheMemory();

    /** Requests waiting for a slot at most; beyond it requests are refused at once (429 / RESOURCE_EXHAUSTED). */
    @WithDefault("64")
    int maxQueued();

    /** max_tokens when a chat request sets none (completions default to 16, as OpenAI's). */
    @WithDefault("512")
    int defaultMaxTokens();

    /** n (choices per request) at most. */
    @WithDefault("8")
    int maxChoices();

    /**
     * API keys for the OpenAI API and gRPC: each "agent-id=key" or just "key" (the agent id is then
     * derived from the key). None configured: the APIs are open (the launcher always configures one).
     */
    Optional<List<String>> apiKeys();

    /** Fair shares among agents (API keys): {@link AgentQuotas}. */
    Quotas quotas();

    interface Quotas {
        /** Generation requests in flight per agent at most; 0: no limit. */
        @WithDefault("0")
        int concurrent();

        /** Prompt and generated tokens per agent per minute at most; 0: no limit. */
        @WithDefault("0")
        long tokensPerMinute();

        /**
         * Agents with limits of their own, replacing the two above: "agent-id:concurrent:tokens-per-minute" (0: no
         * limit), e.g. "ci-bot:2:20000,alice:8:0". The agent id is the one its API key names in api-keys.
         */
        Optional<List<String>> agents();
    }

    /**
     * Capture of sessions served over the HTTP APIs: every request and session end on katmesh.capture.requests,
     * assembled into trajectories by the reward service.
     */
    Capture capture();

    /** Weight hot-swaps from the learner's Weights service. */
    Swap swap();

    /** Responses the Responses API keeps for previous_response_id and GET /v1/responses/{id}. */
    Responses responses();

    interface Responses {
        /**
         * Stored responses at most (each holds its conversation); the least recently used is forgotten first, and a
         * request that names a forgotten one gets a 404 naming previous_response_id.
         */
        @WithDefault("1000")
        int maxStored();
    }

    interface Capture {
        /** Record sessions and log their requests. */
        @WithDefault("true")
        boolean enabled();

        /**
         * A session with no request for this long ends (its end is logged). The reward's
         * katmesh.reward.capture.orphan-timeout must be longer: it closes trees whose inference died.
         */
        @WithDefault("120s")
        Duration idleTimeout();

        /**
         * How long a served request's response waits for its capture record's ack from the broker; past it the
         * answer is sent anyway and the request counted as {@code failed} (the producer keeps trying to deliver).
         */
        @WithDefault("10s")
        Duration logTimeout();

        /**
         * How long an end call waits for the session's running requests to finish (so that they are in the tree
         * before its end); one still running after that is counted {@code after_end} when it finishes.
         */
        @WithDefault("60s")
        Duration endWait();

        /** Sessions open at once at most; the least recently used idle one is ended to make room. */
        @WithDefault("10000")
        int maxSessions();

        /**
         * Branches of one session's tree at most (each a copy of the prefix it extends, so this bounds a session's
         * memory); a request that would start another is served but not captured ({@code tree_full}).
         */
        @WithDefault("64")
        int maxBranches();
    }

    interface Swap {
        /** Fetch attempts for one new version before giving up until the next announcement. */
        @WithDefault("8")
        int attempts();

        /** First wait between attempts; doubles each time, up to 10 s. */
        @WithDefault("500ms")
        Duration backoff();

        /** Deadline of one fetch. */
        @WithDefault("120s")
        Duration fetchTimeout();

        /**
         * Adapter versions (LoRA): fold each into the weights as it arrives ({@code true}: a plain forward, a B·A
         * product per projection at each swap) rather than apply it in every forward ({@code false}, the default:
         * exact, two rank-r products per projection and token).
         */
        @WithDefault("false")
        boolean mergeAdapters();
    }
}
