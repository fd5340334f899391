package dev.katmesh.reward;

import dev.katmesh.proto.wire.RejectReason;

/** A raw record that cannot become a scored trajectory; carries the reason for the dead-letter record. */
public final class RejectedTrajectoryException extends Exception {

    private final RejectReason reason;

    public RejectedTrajectoryException(RejectReason reason, String detail) {
        super(reason + ": " + detail, null, false, false);
        this.reason = reason;
    }

    public RejectReason reason() {
        return reason;
    }
}
