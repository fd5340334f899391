package dev.katmesh.reward;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RejectReason;
import java.util.List;
import java.util.Locale;

/**
 * Turns a record of katmesh.trajectories.raw into a {@link Trajectory}, or says why it cannot.
 *
 * <p>The content-type header chooses the format: {@code application/json} (the OpenAI chat format of
 * {@link TrajectoryJson}) or {@code application/x-protobuf} (a serialised {@link Trajectory}). Without
 * the header, a value whose first non-blank byte is <code>{</code> is read as JSON and anything else as
 * protobuf, so that a hand-typed kcat record works; a present but unknown content type is refused.
 */
public final class RawTrajectoryDecoder {

    /** Content type of JSON trajectories. */
    public static final String JSON = "application/json";
    /** Content type of protobuf trajectories. */
    public static final String PROTOBUF = "application/x-protobuf";

    private final int maxRecordBytes;
    private final TrajectoryValidator validator;

    /** @param maxRecordBytes records larger than this are refused as {@link RejectReason#OVERSIZED}. */
    public RawTrajectoryDecoder(int maxRecordBytes) {
        this(maxRecordBytes, 1L << 32);
    }

    /** @param vocabSize token ids must be below it ({@link RejectReason#INVALID_VALUE} otherwise) */
    public RawTrajectoryDecoder(int maxRecordBytes, long vocabSize) {
        this.maxRecordBytes = maxRecordBytes;
        this.validator = new TrajectoryValidator(vocabSize);
    }

    /** A decoded trajectory and the agent-set fields that were ignored. */
    public record Decoded(Trajectory trajectory, List<String> ignoredAgentFields, String format) {}

    public Decoded decode(byte[] value, String contentType) throws RejectedTrajectoryException {
        if (value == null || value.length == 0) {
            throw new RejectedTrajectoryException(RejectReason.EMPTY, "the record has no value");
        }
        if (value.length > maxRecordBytes) {
            throw new RejectedTrajectoryException(
                    RejectReason.OVERSIZED, value.length + " bytes exceed the limit of " + maxRecordBytes + " bytes");
        }
        String format = format(value, contentType);
        Decoded decoded = format.equals(JSON) ? fromJson(value) : fromProtobuf(value);
        validator.validate(decoded.trajectory());
        return decoded;
    }

    private static String format(byte[] value, String contentType) throws RejectedTrajectoryException {
        if (contentType == null || contentType.isBlank()) {
            for (byte b : value) {
                if (!Character.isWhitespace(b)) {
                    return b == '{' ? JSON : PROTOBUF;
                }
            }
            return JSON;
        }
        String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        return switch (mediaType) {
            case JSON -> JSON;
            case PROTOBUF, "application/protobuf", "application/vnd.google.protobuf" -> PROTOBUF;
            default ->
                throw new RejectedTrajectoryException(
                        RejectReason.UNSUPPORTED_CONTENT_TYPE,
                        "content-type '" + contentType + "' is neither " + JSON + " nor " + PROTOBUF);
        };
    }

    private static Decoded fromJson(byte[] value) throws RejectedTrajectoryException {
        try {
            TrajectoryJson.Parsed parsed = TrajectoryJson.parse(value);
            return new Decoded(parsed.trajectory(), parsed.ignoredAgentFields(), JSON);
        } catch (TrajectoryJsonException e) {
            RejectReason reason = switch (e.kind()) {
                case MALFORMED_JSON ->
                    e.getMessage().contains("UTF-8") ? RejectReason.INVALID_UTF8 : RejectReason.MALFORMED_JSON;
                case WRONG_TYPE -> RejectReason.WRONG_TYPE;
                case MISSING_FIELD -> RejectReason.MISSING_FIELD;
                case INVALID_VALUE -> RejectReason.INVALID_VALUE;
                case INVALID_TEXT -> RejectReason.INVALID_UTF8;
            };
            throw new RejectedTrajectoryException(reason, e.getMessage());
        }
    }

    private static Decoded fromProtobuf(byte[] value) throws RejectedTrajectoryException {
        try {
            return new Decoded(Trajectory.parseFrom(value), List.of(), PROTOBUF);
        } catch (InvalidProtocolBufferException e) {
            String message = String.valueOf(e.getMessage());
            RejectReason reason = message.contains("input ended unexpectedly") || message.contains("truncated")
                    ? RejectReason.TRUNCATED_PROTOBUF
                    : message.contains("UTF-8") ? RejectReason.INVALID_UTF8 : RejectReason.MALFORMED_PROTOBUF;
            throw new RejectedTrajectoryException(reason, message);
        }
    }
}
