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
    /**
     * On a scored record: where its raw record is, {@code topic/partition/offset}. An instance gaining a raw partition
     * finds with it the ids scored for the records not committed yet, which the group delivers to it again.
     */
    public static final String RAW_POSITION = "katmesh-raw-position";
    /** On a scored record: 0 for a first score, 1 for a re-score after late feedback (absent: 0). */
    public static final String REVISION = "katmesh-revision";
    /** On a scored record: the positions on katmesh.feedback ("p@o", comma-separated) of the feedback it joined. */
    public static final String FEEDBACK = "katmesh-feedback";
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

    /**
     * The headers of a dead-letter record that stands for the record at {@code topic}/{@code partition}/{@code offset}:
     * its own headers ({@code original}, copied; may be null), the reason's name ({@link #REJECT_REASON}), and those
     * SmallRye's dead-letter queue writes: {@code dead-letter-reason} (the detail), {@code dead-letter-topic},
     * {@code dead-letter-partition} and {@code dead-letter-offset} ({@code topic} null: no position is known).
     */
    public static Headers deadLetter(
            Headers original, String reason, String detail, String topic, int partition, long offset) {
        Header[] copied = original == null ? new Header[0] : original.toArray();
        Headers h = new org.apache.kafka.common.header.internals.RecordHeaders(copied); // qualified: this class's name
        h.add(REJECT_REASON, utf8(reason));
        if (detail != null) {
            h.add("dead-letter-reason", utf8(detail));
        }
        if (topic != null) {
            h.add("dead-letter-topic", utf8(topic))
                    .add("dead-letter-partition", utf8(Integer.toString(partition)))
                    .add("dead-letter-offset", utf8(Long.toString(offset)));
        }
        return h;
    }

    /** The headers of a scored record; {@code rawPosition} null when the raw record's position is unknown. */
    public static Headers scored(String trajectoryId, long publishedAtMs, String rawPosition) {
        Headers h = trajectory(trajectoryId).add(PUBLISHED_MS, utf8(Long.toString(publishedAtMs)));
        return rawPosition == null ? h : h.add(RAW_POSITION, utf8(rawPosition));
    }

    /** A raw record's position, as {@link #RAW_POSITION} holds it. */
    public record RawPosition(String topic, int partition, long offset) {

        /** The header's text, {@code topic/partition/offset}. */
        @Override
        public String toString() {
            return topic + "/" + partition + "/" + offset;
        }

        /** The position a header's text names, or null when it is not one (absent, or not written by the reward). */
        public static RawPosition parse(String text) {
            if (text == null) {
                return null;
            }
            int a = text.indexOf('/');
            int b = text.lastIndexOf('/');
            if (a <= 0 || b <= a) {
                return null;
            }
            try {
                return new RawPosition(
                        text.substring(0, a),
                        Integer.parseInt(text.substring(a + 1, b)),
                        Long.parseLong(text.substring(b + 1)));
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }

    /** A raw record's position as {@link #RAW_POSITION} writes it. */
    public static String rawPosition(String topic, int partition, long offset) {
        return new RawPosition(topic, partition, offset).toString();
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
