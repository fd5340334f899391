package dev.katmesh.tasks;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolSchema;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TurnAnnotation;
import dev.katmesh.proto.v1.TurnVerdict;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Classifies each assistant turn — ok; tool error (nonzero exit, an error class, or an exception trace
 * in the output); malformed call (arguments that are not a JSON object, or a tool that was not offered);
 * timeout; rejected edit — and marks the generated tokens of erroneous turns in the error mask that
 * error-masked SFT uses. The one rule for an erroneous turn: the reward writes its verdicts into the scored
 * record ({@code ScoredTrajectory.turns}, {@code error_mask}), which the learner reads; a trajectory that was
 * never scored (a file of an SFT stage) is annotated by this same class.
 */
public final class TurnAnnotator {

    /** The verdicts and the per-token mask (aligned with the trajectory's token ids; empty without them). */
    public record Annotation(List<TurnAnnotation> turns, List<Boolean> errorMask, int malformedCalls) {
        /** The message indexes of erroneous assistant turns. */
        public Set<Integer> erroneous() {
            return TurnAnnotator.erroneous(turns);
        }
    }

    /** The message indexes of the turns whose verdict is not ok. */
    public static Set<Integer> erroneous(List<TurnAnnotation> turns) {
        Set<Integer> out = new HashSet<>();
        for (TurnAnnotation a : turns) {
            if (a.getVerdict() != TurnVerdict.TURN_VERDICT_OK) {
                out.add(a.getMessageIndex());
            }
        }
        return out;
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private TurnAnnotator() {}

    public static Annotation annotate(Trajectory t) {
        Set<String> offered = new HashSet<>();
        for (ToolSchema s : t.getToolsList()) {
            offered.add(s.getName());
        }
        Map<String, ToolStep> steps = new HashMap<>();
        for (ToolStep s : t.getStepsList()) {
            steps.put(s.getToolCallId(), s);
        }
        Map<String, String> results = new HashMap<>();
        for (ChatMessage m : t.getMessagesList()) {
            if (m.getRole().equals("tool")) {
                results.put(m.getToolCallId(), m.getContent());
            }
        }
        List<TurnAnnotation> turns = new ArrayList<>();
        Set<Integer> erroneous = new HashSet<>();
        int malformed = 0;
        for (int i = 0; i < t.getMessagesCount(); i++) {
            ChatMessage m = t.getMessages(i);
            if (!m.getRole().equals("assistant")) {
                continue;
            }
            TurnVerdict verdict = TurnVerdict.TURN_VERDICT_OK;
            String detail = "";
            for (ToolCall c : m.getToolCallsList()) {
                ToolStep step = steps.get(c.getId());
                String output = step != null ? step.getOutput() : results.getOrDefault(c.getId(), "");
                if ((!offered.isEmpty() && !offered.contains(c.getName())) || !isJsonObject(c.getArguments())) {
                    verdict = TurnVerdict.TURN_VERDICT_MALFORMED_CALL;
                    detail = !offered.isEmpty() && !offered.contains(c.getName())
                            ? "unknown tool " + c.getName()
                            : "arguments are not a JSON object";
                    malformed++;
                    break;
                }
                if (step != null && step.getErrorClass().equals("timeout")) {
                    verdict = TurnVerdict.TURN_VERDICT_TIMEOUT;
                    detail = "timeout";
                } else if (step != null
                        && (step.getErrorClass().equals("rejected_edit")
                                || step.getErrorClass().equals("wrong_solution"))) {
                    verdict = TurnVerdict.TURN_VERDICT_REJECTED_EDIT;
                    detail = step.getErrorClass();
                } else if (step != null
                        && ((step.hasExitCode() && step.getExitCode() != 0)
                                || !step.getErrorClass().isEmpty())) {
                    verdict = TurnVerdict.TURN_VERDICT_TOOL_ERROR;
                    detail = step.hasExitCode() ? "exit code " + step.getExitCode() : step.getErrorClass();
                } else if (output.contains("Traceback (most recent call last)")
                        || output.contains("Exception in thread")) {
                    verdict = TurnVerdict.TURN_VERDICT_TOOL_ERROR;
                    detail = "exception trace in the output";
                }
            }
            if (verdict != TurnVerdict.TURN_VERDICT_OK) {
                erroneous.add(i);
            }
            turns.add(TurnAnnotation.newBuilder()
                    .setMessageIndex(i)
                    .setVerdict(verdict)
                    .setDetail(detail)
                    .build());
        }
        List<Boolean> mask = new ArrayList<>();
        if (t.getTokenIdsCount() > 0) {
            boolean[] m = new boolean[t.getTokenIdsCount()];
            for (TokenSegment s : t.getSegmentsList()) {
                if (s.getGenerated() && erroneous.contains(s.getMessageIndex())) {
                    for (int k = s.getStart(); k < Math.min(s.getEnd(), m.length); k++) {
                        m[k] = true;
                    }
                }
            }
            for (boolean b : m) {
                mask.add(b);
            }
        }
        return new Annotation(turns, mask, malformed);
    }

    static boolean isJsonObject(String s) {
        try {
            return JSON.readTree(s).isObject();
        } catch (Exception e) {
            return false;
        }
    }
}
