package dev.katmesh.launcher.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FeedbackAuditTest {

    static final List<FeedbackAudit.Received> RECEIVED = List.of(
            new FeedbackAudit.Received(0, 0),
            new FeedbackAudit.Received(0, 1),
            new FeedbackAudit.Received(0, 2),
            new FeedbackAudit.Received(1, 0),
            new FeedbackAudit.Received(1, 1));

    @Test
    void everyVerdictIsJoinedDeadLetteredOrPending() {
        ObjectNode r = FeedbackAudit.reconcile(
                RECEIVED,
                Set.of("0@0", "1@0"),
                Map.of("0@1", "UNMATCHED_FEEDBACK"),
                Set.of("0@2"), // held by the join
                Map.of(0, 3L, 1, 1L)); // 1@1 not taken yet
        assertTrue(r.path("ok").asBoolean(), r.toString());
        assertEquals(2, r.path("joined").asInt());
        assertEquals(1, r.path("dead_lettered").asInt());
        assertEquals(1, r.path("dead_letter_reasons").path("UNMATCHED_FEEDBACK").asInt());
        assertEquals(2, r.path("pending").asInt());
    }

    @Test
    void aTakenVerdictFoundNowhereIsLost() {
        ObjectNode r = FeedbackAudit.reconcile(
                RECEIVED, Set.of("0@0", "1@0"), Map.of("0@1", "MALFORMED_JSON"), Set.of(), Map.of(0, 3L, 1, 2L));
        assertFalse(r.path("ok").asBoolean());
        assertEquals(
                List.of("0@2", "1@1"),
                List.of(r.path("lost").get(0).asText(), r.path("lost").get(1).asText()));
    }
}
