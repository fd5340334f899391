package dev.katmesh.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AgentQuotasTest {

    private final AtomicLong now = new AtomicLong();
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private AgentQuotas quotas(AgentQuotas.Limits defaults, Map<String, AgentQuotas.Limits> perAgent) {
        return new AgentQuotas(defaults, perAgent, now::get, registry);
    }

    @Test
    void concurrentRequestsAreCappedPerAgentAndFreedWhenTheyEnd() {
        AgentQuotas q = quotas(new AgentQuotas.Limits(2, 0), Map.of());
        AgentQuotas.Admission a = q.admit("greedy");
        q.admit("greedy");
        ServingError.ServingException e = assertThrows(ServingError.ServingException.class, () -> q.admit("greedy"));
        assertEquals(ServingError.RATE_LIMITED, e.error);
        assertTrue(e.getMessage().contains("concurrent requests limit of 2"), e.getMessage());
        assertEquals(1, e.retryAfterSeconds);
        q.admit("polite"); // another agent's share is its own
        a.release(10);
        a.release(10); // a second release changes nothing
        q.admit("greedy");
        assertThrows(ServingError.ServingException.class, () -> q.admit("greedy"), "released once, not twice");
        assertEquals(
                2.0,
                registry.counter("katmesh.inference.quota.refused", "agent", "greedy", "limit", "concurrent")
                        .count());
    }

    @Test
    void tokensPerMinuteIsABucketChargedAtTheEndWithRetryAfterTheDebt() {
        AgentQuotas q = quotas(new AgentQuotas.Limits(0, 600), Map.of()); // 10 tokens a second
        q.admit("a").release(500);
        q.admit("a").release(400); // admitted with 100 left, takes the bucket to -300: a debt
        ServingError.ServingException e = assertThrows(ServingError.ServingException.class, () -> q.admit("a"));
        assertTrue(e.getMessage().contains("tokens per minute limit of 600 (300 tokens over)"), e.getMessage());
        assertEquals(31, e.retryAfterSeconds, "(1 + 300) tokens at 10 a second");
        now.addAndGet(30_000_000_000L); // 300 tokens later: at zero, still refused
        assertThrows(ServingError.ServingException.class, () -> q.admit("a"));
        now.addAndGet(1_000_000_000L);
        q.admit("a").release(0);
        now.addAndGet(3_600_000_000_000L); // an hour idle refills a minute's allowance, no more
        q.admit("a").release(600);
        assertThrows(ServingError.ServingException.class, () -> q.admit("a"), "the bucket holds at most a minute");
    }

    @Test
    void agentsOfTheirOwnReplaceTheDefaultsAndUnlimitedIsFree() {
        AgentQuotas q = quotas(
                new AgentQuotas.Limits(1, 0), AgentQuotas.parse(List.of("ci-bot:0:0", " alice : 3 : 1000 ", "")));
        for (int i = 0; i < 10; i++) {
            q.admit("ci-bot"); // 0:0 is no limit, and nothing is tracked
        }
        q.admit("alice");
        q.admit("alice");
        q.admit("alice");
        assertThrows(ServingError.ServingException.class, () -> q.admit("alice"));
        q.admit("bob");
        assertThrows(ServingError.ServingException.class, () -> q.admit("bob"), "the default: one at a time");
    }

    @Test
    void malformedAgentEntriesAreRefusedSayingTheFormat() {
        for (String bad : List.of("alice", "alice:1", "alice:x:1", ":1:1", "alice:-1:0", "alice:1:2:3")) {
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> AgentQuotas.parse(List.of(bad)), bad);
            assertTrue(e.getMessage().contains("agent-id:concurrent:tokens-per-minute"), e.getMessage());
        }
    }
}
