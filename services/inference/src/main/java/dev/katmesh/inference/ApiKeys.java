package dev.katmesh.inference;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The API keys (katmesh.inference.api-keys) and the agent each identifies: the OpenAI API's Bearer
 * token and gRPC's {@code authorization: Bearer ...} metadata. Keys are compared in constant time.
 */
@ApplicationScoped
public class ApiKeys {

    private static final Logger LOG = Logger.getLogger(ApiKeys.class);

    /** The agent id of requests when no key is configured. */
    static final String ANONYMOUS = "anonymous";

    @Inject
    InferenceSettings settings;

    private final Map<byte[], String> agents = new LinkedHashMap<>();

    @PostConstruct
    void load() {
        for (String entry : settings.apiKeys().orElse(List.of())) {
            String e = entry.trim();
            if (e.isEmpty()) {
                continue;
            }
            int eq = e.indexOf('=');
            String key = eq < 0 ? e : e.substring(eq + 1);
            String agent =
                    eq < 0 ? "agent-" + HexFormat.of().formatHex(sha256(key)).substring(0, 12) : e.substring(0, eq);
            if (key.isEmpty() || agent.isEmpty()) {
                throw new IllegalArgumentException("katmesh.inference.api-keys entries are 'agent-id=key' or 'key'");
            }
            agents.put(sha256(key), agent);
        }
        if (agents.isEmpty()) {
            LOG.warn("no katmesh.inference.api-keys: the OpenAI API and gRPC accept every caller");
        }
    }

    public boolean required() {
        return !agents.isEmpty();
    }

    /**
     * The agent an Authorization header value identifies; empty when keys are required and it does
     * not carry a valid one.
     */
    public Optional<String> agent(String authorization) {
        if (agents.isEmpty()) {
            return Optional.of(ANONYMOUS);
        }
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        byte[] presented = sha256(authorization.substring(7).trim());
        String found = null;
        for (Map.Entry<byte[], String> e : agents.entrySet()) {
            if (MessageDigest.isEqual(e.getKey(), presented)) {
                found = e.getValue();
            }
        }
        return Optional.ofNullable(found);
    }

    /**
     * The agent an HTTP request's key identifies: {@code Authorization: Bearer <key>} (OpenAI, and Anthropic's
     * bearer form) or {@code x-api-key: <key>} (Anthropic's own header).
     */
    public Optional<String> agent(String authorization, String xApiKey) {
        if (authorization == null && xApiKey != null) {
            return agent("Bearer " + xApiKey);
        }
        return agent(authorization);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
