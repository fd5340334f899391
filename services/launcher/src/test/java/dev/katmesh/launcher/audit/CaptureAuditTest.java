package dev.katmesh.launcher.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CaptureAuditTest {

    static final List<CaptureAudit.Captured> LOG = List.of(
            new CaptureAudit.Captured(0, 0, "r1"),
            new CaptureAudit.Captured(0, 1, "r2"),
            new CaptureAudit.Captured(1, 0, "r3"),
            new CaptureAudit.Captured(1, 5, "r4"));

    @Test
    void everyRequestNamedOnceIsAnAccountThatBalances() {
        ObjectNode a = CaptureAudit.reconcile(
                LOG, Map.of("t", List.of("r1", "r2"), "u", List.of("r3", "r4")), Map.of(0, 2L, 1, 6L));
        assertTrue(a.path("ok").asBoolean(), a.toString());
        assertEquals(4, a.path("assembled").asInt());
    }

    @Test
    void aRequestCommittedPastAndNamedByNoneIsLostOneNotCommittedIsPending() {
        ObjectNode a = CaptureAudit.reconcile(LOG, Map.of("t", List.of("r1")), Map.of(0, 2L, 1, 1L));
        assertEquals(
                List.of("r2", "r3"),
                List.of(a.path("lost").get(0).asText(), a.path("lost").get(1).asText()));
        assertEquals(1, a.path("pending").asInt(), "r4: its tree is still open");
        assertFalse(a.path("ok").asBoolean());
    }

    @Test
    void aRequestTwoTrajectoriesNameIsNamedTwice() {
        ObjectNode a = CaptureAudit.reconcile(
                LOG, Map.of("t", List.of("r1", "r2", "r3", "r4"), "t.1", List.of("r2")), Map.of());
        assertEquals(1, a.path("named_twice").size(), a.toString());
        assertTrue(a.path("named_twice").get(0).asText().startsWith("r2"), a.toString());
        assertFalse(a.path("ok").asBoolean());
    }
}
