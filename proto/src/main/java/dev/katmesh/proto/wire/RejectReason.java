package dev.katmesh.proto.wire;

/**
 * Why a raw trajectory record was refused. The name travels in the {@code katmesh-reject-reason}
 * header of its dead-letter record and as the {@code reason} tag of
 * {@code katmesh_reward_rejected_total}; operators filter the DLQ on it.
 */
public enum RejectReason {
    /** The record is larger than {@code katmesh.reward.max-record-bytes}. */
    OVERSIZED,
    /** The record has no value (a tombstone) or an empty one. */
    EMPTY,
    /** The content-type header names a format katmesh does not read. */
    UNSUPPORTED_CONTENT_TYPE,
    /** Not parseable JSON: syntax error, truncation, duplicate keys, too deeply nested. */
    MALFORMED_JSON,
    /** A JSON field holds the wrong type. */
    WRONG_TYPE,
    /** A required field (trajectory_id, group_id, messages...) is absent or empty. */
    MISSING_FIELD,
    /** A field's value lies outside its domain. */
    INVALID_VALUE,
    /** Protobuf bytes that end in the middle of a field. */
    TRUNCATED_PROTOBUF,
    /** Protobuf bytes that are not a Trajectory (bad tag, wire type or length). */
    MALFORMED_PROTOBUF,
    /** Text that is not valid UTF-8, or a JSON string escaping an unpaired surrogate (which has no UTF-8 form). */
    INVALID_UTF8,
    /** The trajectory names a task that did not arrive on katmesh.tasks within {@code katmesh.reward.task-wait}. */
    UNKNOWN_TASK,
    /**
     * A secret (a provider's key, a private key, a password...) found in a trajectory whose source is set to reject
     * them ({@code katmesh.reward.secrets.<source>=reject}); the reason names the rules, never the secret.
     */
    SECRET,
    /**
     * A feedback record whose key matched no held or recently released deployed trajectory within
     * {@code katmesh.reward.feedback.window} of its arrival (an unknown session or trajectory id, or one so late that its
     * trajectory was forgotten).
     */
    UNMATCHED_FEEDBACK,
    /**
     * A feedback record from a sender that may not rate the session it names: a sender with no scope in
     * {@code katmesh.reward.feedback.senders} (at once), or one whose session's trajectories all belong to agents outside
     * its scope (when the last of them is released, or its window ends).
     */
    FEEDBACK_OUT_OF_SCOPE,
    /** An unexpected failure while processing a valid-looking record (a bug: the record is kept). */
    INTERNAL
}
