package dev.katmesh.reward.feedback;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.wire.FeedbackSenders;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.reward.RejectedTrajectoryException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Set;

/**
 * A feedback record of katmesh.feedback (or a sender's own topic, {@link FeedbackSenders}), read: a JSON object
 *
 * <pre>{"value": 1, "kind": "pr_merged", "final": true, "id": "gh-981-merged", "at": "2026-12-07T09:00:00Z",
 *  "detail": "merged by @ana"}</pre>
 *
 * keyed by the session id it is about (or the trajectory id of a trajectory without a session). Only {@code value}
 * (in [-1, 1]) is required; {@code kind} defaults to "feedback", {@code final} to true. Anything else is refused with
 * its reason (the record is dead-lettered), so a sender's typo is seen rather than silently weighed.
 */
public final class FeedbackParser {

    /** The largest feedback record read, in bytes: a verdict, not a session. */
    public static final int MAX_BYTES = 65_536;

    private static final Set<String> FIELDS = Set.of("value", "kind", "final", "id", "at", "detail");
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    private FeedbackParser() {}

    /**
     * @param key      the record's key: the session or trajectory id the verdict is about
     * @param position where the record is ({@link FeedbackSenders.Position})
     */
    public static Feedback parse(String key, byte[] value, String position, long receivedAtMs)
            throws RejectedTrajectoryException {
        if (key == null || key.isBlank()) {
            throw new RejectedTrajectoryException(
                    RejectReason.MISSING_FIELD,
                    "a feedback record is keyed by the session id (or trajectory id) it is about; this one has no key");
        }
        if (value == null || value.length == 0) {
            throw new RejectedTrajectoryException(RejectReason.EMPTY, "a feedback record has a JSON value");
        }
        if (value.length > MAX_BYTES) {
            throw new RejectedTrajectoryException(
                    RejectReason.OVERSIZED, value.length + " bytes; a feedback record is at most " + MAX_BYTES);
        }
        JsonNode root;
        try {
            root = JSON.readTree(utf8(value));
        } catch (JsonProcessingException e) {
            throw new RejectedTrajectoryException(RejectReason.MALFORMED_JSON, e.getOriginalMessage());
        } catch (IOException e) {
            throw new RejectedTrajectoryException(RejectReason.MALFORMED_JSON, e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new RejectedTrajectoryException(RejectReason.WRONG_TYPE, "a feedback record is a JSON object");
        }
        for (var it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                throw new RejectedTrajectoryException(
                        RejectReason.INVALID_VALUE, "unknown field '" + f + "'; a feedback record has " + FIELDS);
            }
        }
        JsonNode v = root.get("value");
        if (v == null || v.isNull()) {
            throw new RejectedTrajectoryException(RejectReason.MISSING_FIELD, "'value' (a number in [-1, 1])");
        }
        if (!v.isNumber()) {
            throw new RejectedTrajectoryException(RejectReason.WRONG_TYPE, "'value' is a number, not " + v);
        }
        double d = v.asDouble();
        if (!(d >= -1 && d <= 1)) {
            throw new RejectedTrajectoryException(RejectReason.INVALID_VALUE, "'value' " + v + " is outside [-1, 1]");
        }
        Feedback.Builder b = Feedback.newBuilder()
                .setValue(d)
                .setKind(text(root, "kind", "feedback"))
                .setFeedbackId(text(root, "id", ""))
                .setDetail(text(root, "detail", ""))
                .setPosition(position)
                .setSender(FeedbackSenders.Position.parse(position).sender())
                .setReceivedAtMs(receivedAtMs);
        JsonNode fin = root.get("final");
        if (fin != null && !fin.isBoolean()) {
            throw new RejectedTrajectoryException(RejectReason.WRONG_TYPE, "'final' is true or false, not " + fin);
        }
        b.setFinal(fin == null || fin.asBoolean());
        JsonNode at = root.get("at");
        if (at != null && !at.isNull()) {
            b.setAtMs(time(at));
        }
        return b.build();
    }

    private static String text(JsonNode root, String field, String absent) throws RejectedTrajectoryException {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return absent;
        }
        if (!n.isTextual()) {
            throw new RejectedTrajectoryException(RejectReason.WRONG_TYPE, "'" + field + "' is a string, not " + n);
        }
        if (n.asText().length() > 4096) {
            throw new RejectedTrajectoryException(RejectReason.INVALID_VALUE, "'" + field + "' is over 4096 chars");
        }
        return n.asText();
    }

    private static long time(JsonNode at) throws RejectedTrajectoryException {
        if (at.isIntegralNumber()) {
            return at.asLong();
        }
        try {
            return Instant.parse(at.asText()).toEpochMilli();
        } catch (DateTimeParseException e) {
            throw new RejectedTrajectoryException(
                    RejectReason.INVALID_VALUE, "'at' is ISO-8601 or epoch ms, not " + at);
        }
    }

    /** The text, refusing bytes that are not UTF-8 (kept byte for byte on the dead-letter topic instead). */
    private static String utf8(byte[] value) throws RejectedTrajectoryException {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(value))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new RejectedTrajectoryException(RejectReason.INVALID_UTF8, "a feedback record is UTF-8 JSON");
        }
    }
}
