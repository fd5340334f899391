package dev.katmesh.rollout;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** The rollout service's settings (application.properties, prefix katmesh.rollout). */
@ConfigMapping(prefix = "katmesh.rollout")
public interface RolloutSettings {

    /** Episodes per task: a group, which the learner's group-relative advantages compare. */
    @WithDefault("4")
    int groupSize();

    /** Task splits rolled out (held-out tasks are for evaluation). */
    @WithDefault("train")
    List<String> splits();

    /** Turns per episode at most; a task's own max_turns applies when lower. */
    @WithDefault("8")
    int maxTurns();

    /** New tokens per turn at most. */
    @WithDefault("256")
    int maxNewTokens();

    /** Tokens of an episode's whole context at most: the episode ends before a turn would pass it. */
    @WithDefault("3072")
    int maxContextTokens();

    /** Sampling temperature (RL needs exploration: 1.0). */
    @WithDefault("1.0")
    float temperature();

    @WithDefault("1.0")
    float topP();

    /** Wall time of one episode at most. */
    @WithDefault("300s")
    Duration episodeTimeout();

    /** A bash call's wall time in the sandbox. */
    @WithDefault("20s")
    Duration bashTimeout();

    /** Attempts of an episode that crashed (an exception, not a bad answer) before it is published as failed. */
    @WithDefault("2")
    int attempts();

    /** Episodes running at once: the adaptive limit moves between these bounds. */
    Concurrency concurrency();

    /** Tree rollouts: at these turns an episode branches into {@code branch-factor} continuations. */
    Tree tree();

    /** The API key for the inference service's gRPC (metadata authorization: Bearer), if it requires one. */
    Optional<String> apiKey();

    interface Concurrency {
        @WithDefault("1")
        int min();

        @WithDefault("8")
        int max();

        /** Start value. */
        @WithDefault("4")
        int initial();

        /** A generate call slower than this counts as back-pressure (the limit shrinks). */
        @WithDefault("30s")
        Duration slowCall();
    }

    interface Tree {
        /** Turn numbers (1-based) after which an episode branches; empty: no branching. */
        Optional<List<Integer>> branchTurns();

        /** Continuations at a branch point, the original included. */
        @WithDefault("2")
        int branchFactor();
    }
}
