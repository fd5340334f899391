package dev.katmesh.secrets;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.Outcome;
import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Every text of a trajectory that can hold what an agent saw or wrote — message contents and reasoning, tool-call
 * arguments, tool steps' arguments and outputs, the outcome and its test outputs, metadata values, and (on a scored
 * record) the reward's component and turn details — scanned, and redacted in place. A redacted record loses its
 * token ids, segments and error mask: the tokens spelled the secret, and no tokenizer is at hand to re-spell the
 * placeholder; the learner renders the redacted messages instead (see {@code ScoredTrajectory.redactions}).
 */
public final class TrajectoryRedactor {

    private final SecretScanner scanner;

    public TrajectoryRedactor(SecretScanner scanner) {
        this.scanner = scanner;
    }

    /** Where a text is, and its replacement. */
    private interface Texts {
        /** The text to keep in place of {@code value} at {@code field} (of message {@code message}, or -1). */
        String visit(String field, int message, String value);
    }

    /** The secrets in a trajectory, without changing it (for a source whose records are rejected). */
    public List<Redaction> find(Trajectory t) {
        List<Redaction> found = new ArrayList<>();
        walk(t.toBuilder(), (field, message, value) -> {
            for (Finding f : scanner.find(value)) {
                found.add(redaction(f, field, message));
            }
            return value;
        });
        return found;
    }

    /**
     * The record with its secrets replaced, and the redactions listed on it; the same record when there is none.
     */
    public ScoredTrajectory redact(ScoredTrajectory scored) {
        ScoredTrajectory.Builder b = scored.toBuilder();
        List<Redaction> found = new ArrayList<>();
        Texts redacting = (field, message, value) -> {
            SecretScanner.Redacted r = scanner.redact(value);
            r.findings().forEach(f -> found.add(redaction(f, field, message)));
            return r.text();
        };
        walk(b.getTrajectoryBuilder(), redacting);
        for (int i = 0; i < b.getComponentsCount(); i++) {
            var c = b.getComponentsBuilder(i);
            c.setDetail(redacting.visit("components[" + i + "].detail", -1, c.getDetail()));
        }
        for (int i = 0; i < b.getTurnsCount(); i++) {
            var c = b.getTurnsBuilder(i);
            c.setDetail(redacting.visit("turns[" + i + "].detail", -1, c.getDetail()));
        }
        if (found.isEmpty()) {
            return scored;
        }
        b.getTrajectoryBuilder().clearTokenIds().clearSegments();
        return b.clearErrorMask().addAllRedactions(found).build();
    }

    private static Redaction redaction(Finding f, String field, int message) {
        return Redaction.newBuilder()
                .setRule(f.rule())
                .setField(field)
                .setMessageIndex(message)
                .build();
    }

    private static void walk(Trajectory.Builder t, Texts texts) {
        for (int i = 0; i < t.getMessagesCount(); i++) {
            ChatMessage.Builder m = t.getMessagesBuilder(i);
            String at = "messages[" + i + "].";
            m.setContent(texts.visit(at + "content", i, m.getContent()));
            m.setReasoningContent(texts.visit(at + "reasoning_content", i, m.getReasoningContent()));
            for (int j = 0; j < m.getToolCallsCount(); j++) {
                ToolCall.Builder c = m.getToolCallsBuilder(j);
                c.setArguments(texts.visit(at + "tool_calls[" + j + "].arguments", i, c.getArguments()));
            }
        }
        for (int i = 0; i < t.getStepsCount(); i++) {
            ToolStep.Builder s = t.getStepsBuilder(i);
            s.setArguments(texts.visit("steps[" + i + "].arguments", -1, s.getArguments()));
            s.setOutput(texts.visit("steps[" + i + "].output", -1, s.getOutput()));
        }
        if (t.hasOutcome()) {
            Outcome.Builder o = t.getOutcomeBuilder();
            o.setContent(texts.visit("outcome.content", -1, o.getContent()));
            for (int i = 0; i < o.getTestResultsCount(); i++) {
                var r = o.getTestResultsBuilder(i);
                r.setOutput(texts.visit("outcome.test_results[" + i + "].output", -1, r.getOutput()));
            }
        }
        for (Map.Entry<String, String> e : Map.copyOf(t.getMetadataMap()).entrySet()) {
            t.putMetadata(e.getKey(), texts.visit("metadata[" + e.getKey() + "]", -1, e.getValue()));
        }
    }
}
