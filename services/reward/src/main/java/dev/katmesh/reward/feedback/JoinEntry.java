package dev.katmesh.reward.feedback;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Utils;

/**
 * The records of katmesh.feedback.join, the join's state. Keys name what an entry is about — {@code t/<trajectory
 * id>} a deployed trajectory, {@code f/<partition>@<offset>} a feedback record of katmesh.feedback — and a null value
 * (a tombstone) ends it. Headers carry the rest:
 *
 * <ul>
 *   <li>{@value #KEY}: the join key (the session id, or the trajectory id of a session-less trajectory);
 *   <li>{@value #STATE}: {@code held} (value: the scored trajectory, not yet on the scored topic) or {@code released}
 *       (value: its released score, kept for late feedback), with {@value #SINCE} when it entered that state;
 *   <li>{@code katmesh-feedback}: on a released entry, the feedback positions its score joined;
 *   <li>{@code katmesh-published-ms}, {@code katmesh-raw-position}: the raw record's, carried to the
 *       scored record (agent-to-trainer latency and the audit start at the raw record);
 *   <li>on feedback entries the value is the record as sent, with {@value #SINCE} when the reward received it.
 * </ul>
 *
 * An entry's partition is the join key's under Kafka's default partitioner, whatever partition its feedback came on,
 * so one instance holds all of a key's entries.
 */
final class JoinEntry {

    static final String KEY = "katmesh-join-key";
    static final String STATE = "katmesh-join-state";
    static final String SINCE = "katmesh-join-since-ms";
    static final String HELD = "held";
    static final String RELEASED = "released";

    private JoinEntry() {}

    static String trajectory(String id) {
        return "t/" + id;
    }

    static String feedback(String position) {
        return "f/" + position;
    }

    /** The join key of a trajectory: its session, or itself without one. */
    static String joinKey(String sessionId, String trajectoryId) {
        return sessionId == null || sessionId.isEmpty() ? trajectoryId : sessionId;
    }

    /** The join topic's partition of a key: Kafka's default partitioner's (murmur2). */
    static int partition(String joinKey, int partitions) {
        return Utils.toPositive(Utils.murmur2(joinKey.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    static Headers headers(String joinKey, String state, long sinceMs) {
        Headers h = new RecordHeaders();
        h.add(KEY, utf8(joinKey));
        if (state != null) {
            h.add(STATE, utf8(state));
        }
        h.add(SINCE, utf8(Long.toString(sinceMs)));
        return h;
    }

    static void add(Headers h, String name, String value) {
        if (value != null) {
            h.add(new RecordHeader(name, utf8(value)));
        }
    }

    static List<String> positions(String header) {
        return header == null || header.isEmpty() ? List.of() : List.of(header.split(","));
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
