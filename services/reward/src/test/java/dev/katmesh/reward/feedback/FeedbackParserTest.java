package dev.katmesh.reward.feedback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.reward.RejectedTrajectoryException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FeedbackParserTest {

    static Feedback parse(String key, String json) throws RejectedTrajectoryException {
        return FeedbackParser.parse(key, json.getBytes(StandardCharsets.UTF_8), "2@40", 77);
    }

    static RejectReason refused(String key, byte[] value) {
        return assertThrows(RejectedTrajectoryException.class, () -> FeedbackParser.parse(key, value, "0@0", 0))
                .reason();
    }

    static RejectReason refused(String json) {
        return refused("s1", json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aFullVerdictIsRead() throws Exception {
        Feedback f = parse(
                "s1",
                "{\"value\": -1, \"kind\": \"pr_reverted\", \"final\": false, \"id\": \"gh-9\","
                        + " \"at\": \"2026-12-07T09:00:00Z\", \"detail\": \"reverted\"}");
        assertEquals(-1, f.getValue());
        assertEquals("pr_reverted", f.getKind());
        assertEquals(false, f.getFinal());
        assertEquals("gh-9", f.getFeedbackId());
        assertEquals(1796634000000L, f.getAtMs());
        assertEquals("2@40", f.getPosition());
        assertEquals(77, f.getReceivedAtMs());
    }

    @Test
    void onlyTheValueIsRequired() throws Exception {
        Feedback f = parse("s1", "{\"value\": 0.5}");
        assertEquals("feedback", f.getKind());
        assertTrue(f.getFinal(), "final by default");
    }

    @Test
    void badRecordsAreRefusedWithTheirReason() {
        assertEquals(RejectReason.MISSING_FIELD, refused(null, "{\"value\":1}".getBytes(StandardCharsets.UTF_8)));
        assertEquals(RejectReason.EMPTY, refused("s1", new byte[0]));
        assertEquals(RejectReason.MALFORMED_JSON, refused("{\"value\": 1"));
        assertEquals(RejectReason.MALFORMED_JSON, refused("{\"value\": 1, \"value\": 0}"));
        assertEquals(RejectReason.WRONG_TYPE, refused("[1]"));
        assertEquals(RejectReason.MISSING_FIELD, refused("{\"kind\": \"ci\"}"));
        assertEquals(RejectReason.WRONG_TYPE, refused("{\"value\": \"1\"}"));
        assertEquals(RejectReason.INVALID_VALUE, refused("{\"value\": 2}"));
        assertEquals(RejectReason.INVALID_VALUE, refused("{\"value\": 1, \"rewrad\": 5}"));
        assertEquals(RejectReason.WRONG_TYPE, refused("{\"value\": 1, \"final\": \"yes\"}"));
        assertEquals(RejectReason.INVALID_VALUE, refused("{\"value\": 1, \"at\": \"yesterday\"}"));
        assertEquals(RejectReason.INVALID_UTF8, refused("s1", new byte[] {'{', (byte) 0xff, '}'}));
        assertEquals(RejectReason.OVERSIZED, refused("s1", new byte[FeedbackParser.MAX_BYTES + 1]));
    }
}
