package dev.katmesh.inference;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.v1.ChatMessage;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Responses API's stored responses, in memory and bounded (least recently used first out): what a later
 * request's {@code previous_response_id} continues, and what {@code GET /v1/responses/{id}} returns. A response
 * is visible only to the agent (API key) that made it.
 */
@ApplicationScoped
public class ResponseStore {

    /**
     * One stored response.
     *
     * @param conversation the conversation it ended, instructions left out (a later request brings its own)
     * @param session the captured session it belongs to, so a continuation is captured in the same one
     */
    record Stored(String agent, String session, List<ChatMessage> conversation, ObjectNode response) {}

    @Inject
    InferenceSettings settings;

    private final Map<String, Stored> stored = new LinkedHashMap<>(16, 0.75f, true); // guarded by itself

    void put(String id, Stored response) {
        synchronized (stored) {
            stored.put(id, response);
            while (stored.size() > settings.responses().maxStored()) {
                stored.remove(stored.keySet().iterator().next());
            }
        }
    }

    /** The response {@code id} of {@code agent}; empty when unknown, forgotten, or another agent's. */
    Optional<Stored> get(String agent, String id) {
        synchronized (stored) {
            Stored s = stored.get(id);
            return s != null && s.agent().equals(agent) ? Optional.of(s) : Optional.empty();
        }
    }

    boolean delete(String agent, String id) {
        synchronized (stored) {
            Stored s = stored.get(id);
            if (s == null || !s.agent().equals(agent)) {
                return false;
            }
            stored.remove(id);
            return true;
        }
    }
}
