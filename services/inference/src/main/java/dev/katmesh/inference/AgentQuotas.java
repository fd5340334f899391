package dev.katmesh.inference;

import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Fair shares of the model among agents (API keys): each may have at most {@code concurrent} generation requests in
 * flight and spend at most {@code tokens-per-minute} tokens (prompt and generated), with limits per agent
 * (katmesh.inference.quotas). A request over a limit is refused at once with 429 naming the limit, and a
 * Retry-After saying when to come back, so one agent filling the queue cannot starve the others.
 *
 * <p>DESIGN. Tokens are a bucket holding a minute's allowance and refilling continuously. A request is admitted
 * while the bucket is above zero and charged its prompt and generated tokens when it ends: what a request will
 * generate is unknown when it arrives, so one long answer may take the bucket below zero (a debt) and the agent
 * waits until it is repaid. Retry-After is that wait exactly; for the concurrency limit it is unknown (when one of
 * the agent's requests ends) and one second is given. Counting at the end rather than reserving max_tokens up front
 * keeps agents that ask for large max_tokens and use little from being refused for what they never spend.
 */
@ApplicationScoped
public class AgentQuotas {

    /** An agent's limits; 0 for no limit. */
    record Limits(int concurrent, long tokensPerMinute) {

        static final Limits NONE = new Limits(0, 0);

        Limits {
            if (concurrent < 0 || tokensPerMinute < 0) {
                throw new IllegalArgumentException("quota limits are 0 (none) or positive");
            }
        }

        boolean unlimited() {
            return concurrent == 0 && tokensPerMinute == 0;
        }
    }

    /** A request admitted for an agent: released once, when it ends, with the tokens it used. */
    interface Admission {
        void release(long tokens);
    }

    private static final Admission FREE = tokens -> {};

    /** The routing-context key under which a generation leaves the tokens it used (a Long). */
    static final String TOKENS_USED = "katmesh.tokens-used";

    private final Limits defaults;
    private final Map<String, Limits> perAgent;
    private final LongSupplier nanos;
    private final MeterRegistry registry;
    private final Map<String, Account> accounts = new ConcurrentHashMap<>();

    @Inject
    AgentQuotas(InferenceSettings settings, MeterRegistry registry) {
        this(
                new Limits(settings.quotas().concurrent(), settings.quotas().tokensPerMinute()),
                parse(settings.quotas().agents().orElse(List.of())),
                System::nanoTime,
                registry);
    }

    AgentQuotas(Limits defaults, Map<String, Limits> perAgent, LongSupplier nanos, MeterRegistry registry) {
        this.defaults = defaults;
        this.perAgent = Map.copyOf(perAgent);
        this.nanos = nanos;
        this.registry = registry;
    }

    /**
     * Admits a request of {@code agent}, or throws RATE_LIMITED naming the limit it is over, with the seconds to wait.
     */
    Admission admit(String agent) {
        Limits limits = perAgent.getOrDefault(agent, defaults);
        if (limits.unlimited()) {
            return FREE;
        }
        Account a = accounts.computeIfAbsent(agent, k -> new Account(limits, nanos.getAsLong()));
        synchronized (a) {
            a.refill(nanos.getAsLong());
            if (limits.concurrent() > 0 && a.inFlight >= limits.concurrent()) {
                throw refused(agent, "concurrent", "concurrent requests limit of " + limits.concurrent(), 1);
            }
            if (limits.tokensPerMinute() > 0 && a.tokens <= 0) {
                long wait = (long) Math.ceil((1 - a.tokens) * 60.0 / limits.tokensPerMinute());
                throw refused(
                        agent,
                        "tokens_per_minute",
                        "tokens per minute limit of " + limits.tokensPerMinute() + " (" + Math.round(-a.tokens)
                                + " tokens over)",
                        Math.max(1, wait));
            }
            a.inFlight++;
        }
        return new Admission() {
            private boolean released;

            @Override
            public void release(long tokens) {
                synchronized (a) {
                    if (released) {
                        return;
                    }
                    released = true;
                    a.inFlight--;
                    a.refill(nanos.getAsLong());
                    a.tokens -= Math.max(0, tokens);
                }
            }
        };
    }

    private ServingError.ServingException refused(String agent, String limit, String what, long retryAfterSeconds) {
        registry.counter("katmesh.inference.quota.refused", "agent", agent, "limit", limit)
                .increment();
        return ServingError.RATE_LIMITED.with(
                "Agent " + agent + " is over its " + what + ": retry after " + retryAfterSeconds + " s",
                null,
                retryAfterSeconds);
    }

    /** Per-agent limits from "agent-id:concurrent:tokens-per-minute" entries (0: no limit). */
    static Map<String, Limits> parse(List<String> entries) {
        Map<String, Limits> out = new HashMap<>();
        for (String entry : entries) {
            String e = entry.trim();
            if (e.isEmpty()) {
                continue;
            }
            String[] parts = e.split(":", -1);
            for (int i = 0; i < parts.length; i++) {
                parts[i] = parts[i].trim();
            }
            try {
                if (parts.length != 3 || parts[0].isEmpty()) {
                    throw new NumberFormatException();
                }
                out.put(parts[0], new Limits(Integer.parseInt(parts[1]), Long.parseLong(parts[2])));
            } catch (IllegalArgumentException bad) {
                throw new IllegalArgumentException("katmesh.inference.quotas.agents entries are "
                        + "'agent-id:concurrent:tokens-per-minute' with numbers >= 0 (0: no limit), got '" + e + "'");
            }
        }
        return out;
    }

    /** One agent's requests in flight and token bucket (guarded by itself). */
    private static final class Account {
        final Limits limits;
        int inFlight;
        double tokens;
        long refilledAt;

        Account(Limits limits, long now) {
            this.limits = limits;
            this.tokens = limits.tokensPerMinute();
            this.refilledAt = now;
        }

        void refill(long now) {
            if (limits.tokensPerMinute() > 0) {
                double perNano = limits.tokensPerMinute() / 60e9;
                tokens = Math.min(limits.tokensPerMinute(), tokens + (now - refilledAt) * perNano);
            }
            refilledAt = now;
        }
    }
}
