package dev.katmesh.reward;

import dev.katmesh.proto.chat.ConversationRules;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TestResult;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RejectReason;
import java.util.HashSet;
import java.util.Set;

/**
 * The checks every trajectory passes, whatever its format: ids, the contract's conversation rules
 * ({@link ConversationRules}, record mode), steps that refer to calls the messages made, token
 * segments inside the token ids with one finite, non-positive log-prob per generated token, token ids
 * inside the vocabulary, finite numbers in their ranges.
 */
final class TrajectoryValidator {

    static final int MAX_MESSAGES = 10_000;

    private final long vocabSize;

    /** @param vocabSize token ids must be below it */
    TrajectoryValidator(long vocabSize) {
        this.vocabSize = vocabSize;
    }

    void validate(Trajectory t) throws RejectedTrajectoryException {
        if (t.getTrajectoryId().isBlank()) {
            throw invalid(RejectReason.MISSING_FIELD, "trajectory_id is required");
        }
        if (t.getGroupId().isBlank()) {
            throw invalid(RejectReason.MISSING_FIELD, "group_id is required");
        }
        if (t.getMessagesCount() == 0) {
            throw invalid(RejectReason.MISSING_FIELD, "at least one message is required");
        }
        if (t.getMessagesCount() > MAX_MESSAGES) {
            throw invalid(RejectReason.OVERSIZED, t.getMessagesCount() + " messages exceed " + MAX_MESSAGES);
        }
        var broken = ConversationRules.check(t.getMessagesList(), ConversationRules.Mode.RECORD);
        if (broken.isPresent()) {
            throw invalid(
                    broken.get().problem() == ConversationRules.Problem.MISSING_FIELD
                            ? RejectReason.MISSING_FIELD
                            : RejectReason.INVALID_VALUE,
                    broken.get().message());
        }
        Set<String> calls = new HashSet<>();
        for (ChatMessage m : t.getMessagesList()) {
            m.getToolCallsList().forEach(c -> calls.add(c.getId()));
        }
        for (ToolStep s : t.getStepsList()) {
            if (!s.getToolCallId().isEmpty() && !calls.contains(s.getToolCallId())) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "a step refers to tool call '" + s.getToolCallId() + "', which no message made");
            }
            if (s.getMessageIndex() >= t.getMessagesCount()) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "a step refers to message " + s.getMessageIndex() + " of " + t.getMessagesCount());
            }
        }
        int n = t.getTokenIdsCount();
        for (int i = 0; i < n; i++) {
            long id = Integer.toUnsignedLong(t.getTokenIds(i));
            if (id >= vocabSize) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "token_ids[" + i + "] = " + id + " is outside the vocabulary (" + vocabSize + ")");
            }
        }
        for (int k = 0; k < t.getSegmentsCount(); k++) {
            TokenSegment s = t.getSegments(k);
            long start = Integer.toUnsignedLong(s.getStart());
            long end = Integer.toUnsignedLong(s.getEnd());
            if (start > end || end > n) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "segments[" + k + "] [" + start + ", " + end + ") lies outside the " + n + " token ids");
            }
            if (s.getLogprobsCount() != 0 && s.getLogprobsCount() != end - start) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "segments[" + k + "] has " + s.getLogprobsCount() + " log-probs for " + (end - start)
                                + " tokens");
            }
            for (float lp : s.getLogprobsList()) {
                if (!Float.isFinite(lp) || lp > 1e-4f) {
                    throw invalid(
                            RejectReason.INVALID_VALUE,
                            "segments[" + k + "] has a log-prob " + lp + " (must be finite and <= 0)");
                }
            }
        }
        if (t.hasTree() && Integer.toUnsignedLong(t.getTree().getBranchTokenIndex()) > n && n > 0) {
            throw invalid(RejectReason.INVALID_VALUE, "tree.branch_token_index lies past the token ids");
        }
        if (t.hasOutcome()) {
            if (t.getOutcome().hasFeedback()
                    && !(t.getOutcome().getFeedback() >= -1 && t.getOutcome().getFeedback() <= 1)) {
                throw invalid(
                        RejectReason.INVALID_VALUE,
                        "outcome.feedback must lie in [-1, 1], got "
                                + t.getOutcome().getFeedback());
            }
            for (TestResult r : t.getOutcome().getTestResultsList()) {
                if (Integer.toUnsignedLong(r.getPassedCases()) > Integer.toUnsignedLong(r.getTotalCases())) {
                    throw invalid(
                            RejectReason.INVALID_VALUE,
                            "test result '" + r.getName() + "' passes more cases than it has");
                }
            }
        }
    }

    private static RejectedTrajectoryException invalid(RejectReason reason, String detail) {
        return new RejectedTrajectoryException(reason, detail);
    }
}
