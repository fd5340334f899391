package dev.katmesh.launcher.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.wire.FeedbackSenders;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class FeedbackAuditTest {

    static final List<FeedbackSenders.Position> RECEIVED = List.of(
            new FeedbackSenders.Position("shared", 0, 0),
            new FeedbackSenders.Position("shared", 0, 1),
            new FeedbackSenders.Position("shared", 0, 2),
            new FeedbackSenders.Position("shared", 1, 0),
            new FeedbackSenders.Position("shared", 1, 1),
            new FeedbackSenders.Position("ci", 1, 1));

    @Test
    void everyVerdictIsJoinedDeadLetteredOrPending() {
        ObjectNode r = FeedbackAudit.reconcile(
                RECEIVED,
                Set.of("0@0", "1@0"),
                Map.of("0@1", "UNMATCHED_FEEDBACK", "ci:1@1", "FEEDBACK_OUT_OF_SCOPE"),
                Set.of("0@2"), // held by the join
                Map.of("katmesh.feedback-0", 3L, "katmesh.feedback-1", 1L)); // 1@1 not taken yet
        assertTrue(r.path("ok").asBoolean(), r.toString());
        assertEquals(2, r.path("joined").asInt());
        assertEquals(2, r.path("dead_lettered").asInt());
        assertEquals(1, r.path("dead_letter_reasons").path("UNMATCHED_FEEDBACK").asInt());
        assertEquals(
                1, r.path("dead_letter_reasons").path("FEEDBACK_OUT_OF_SCOPE").asInt());
        assertEquals(2, r.path("pending").asInt());
        assertEquals(5, r.path("senders").path("shared").asInt());
        assertEquals(1, r.path("senders").path("ci").asInt());
    }

    @Test
    void aTakenVerdictFoundNowhereIsLost() {
        ObjectNode r = FeedbackAudit.reconcile(
                RECEIVED,
                Set.of("0@0", "1@0"),
                Map.of("0@1", "MALFORMED_JSON"),
                Set.of(),
                Map.of("katmesh.feedback-0", 3L, "katmesh.feedback-1", 2L, "katmesh.feedback.from.ci-1", 2L));
        assertFalse(r.path("ok").asBoolean());
        assertEquals("[\"0@2\",\"1@1\",\"ci:1@1\"]", r.path("lost").toString(), "each sender's topic on its own");
    }
}
