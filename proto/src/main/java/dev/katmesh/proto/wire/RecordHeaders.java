package dev.katmesh.proto.wire;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/** The headers of the mesh's Kafka records: names, the builders of each kind of record, and their readers. */
public final class RecordHeaders {

    /** The value's encoding, on trajectory records: {@link #PROTOBUF}, or JSON when absent (agents publishing by hand). */
    public static final String CONTENT_TYPE = "content-type";

    public static final String PROTOBUF = "application/x-protobuf";
    /** The trajectory id, on raw, rollout, scored and dead-letter records (the audit follows it). */
    public static final String TRAJECTORY_ID = "katmesh-trajectory-id";
    /** On a scored record: when its raw record was published (ms since the epoch), for agent-to-trainer latency. */
    public static final String PUBLISHED_MS = "katmesh-published-ms";
    /** On a dead-letter record: why it was rejected (the name of the reward's RejectReason). */
    public static final String REJECT_REASON = "katmesh-reject-reason";

    private RecordHeaders() {}

    /** The headers of a trajectory record (raw, rollout, scored): protobuf, and its id. */
    public static Headers trajectory(String trajectoryId) {
        return new org.apache.kafka.common.header.internals.RecordHeaders() // qualified: this class's own name
                .add(CONTENT_TYPE, utf8(PROTOBUF))
                .add(TRAJECTORY_ID, utf8(trajectoryId));
    }

    /** The headers of a dead-letter record. */
    public static Headers rejected(String reason) {
        return new org.apache.kafka.common.header.internals.RecordHeaders() // qualified: this class's own name
                .add(REJECT_REASON, utf8(reason));
    }

    /** The headers of a scored record. */
    public static Headers scored(String trajectoryId, long publishedAtMs) {
        return trajectory(trajectoryId).add(PUBLISHED_MS, utf8(Long.toString(publishedAtMs)));
    }

    /** The last value of header {@code name} as text, or null when absent. */
    public static String text(Headers headers, String name) {
        Header h = headers.lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The last value of header {@code name} as a number, or -1 when absent or not a number. */
    public static long number(Headers headers, String name) {
        String s = text(headers, name);
        try {
            return s == null ? -1 : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
