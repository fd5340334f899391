package dev.katmesh.reward.feedback;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A scored trajectory re-scored with its feedback (docs/algorithms.md, "Late feedback"):
 *
 * <pre>
 *   feedback = mean over kinds k of the latest verdict of kind k  (one sender's verdict sent twice under one id: once)
 *   reward   = Σ weight·value over the other components + w_feedback · feedback
 * </pre>
 *
 * The latest verdict per kind, because a later verdict of a kind supersedes an earlier one (merged, then reverted);
 * the mean over kinds, because different kinds (CI, a review, a rating) are separate evidence of equal standing. A
 * re-score replaces an earlier feedback component (a revision after late feedback starts from the released score).
 */
public final class FeedbackScore {

    public static final String COMPONENT = "feedback";

    private FeedbackScore() {}

    /** {@code scored} with {@code feedback} (in arrival order) joined, as revision {@code revision}. */
    public static ScoredTrajectory rescore(
            ScoredTrajectory scored, List<Feedback> feedback, double weight, int revision) {
        ScoredTrajectory.Builder b =
                scored.toBuilder().clearComponents().clearFeedback().setRevision(revision);
        double reward = 0;
        for (RewardComponent c : scored.getComponentsList()) {
            if (!c.getName().equals(COMPONENT)) {
                b.addComponents(c);
                reward += c.getWeight() * c.getValue();
            }
        }
        Map<String, Feedback> byId = new LinkedHashMap<>(); // later copies of an id replace the earlier in place
        for (Feedback f : feedback) {
            byId.put(f.getFeedbackId().isEmpty() ? "@" + f.getPosition() : f.getSender() + "/" + f.getFeedbackId(), f);
        }
        Map<String, Feedback> latestPerKind = new TreeMap<>();
        for (Feedback f : byId.values()) {
            latestPerKind.put(f.getKind(), f);
        }
        b.addAllFeedback(feedback);
        if (!latestPerKind.isEmpty()) {
            double sum = 0;
            List<String> parts = new ArrayList<>();
            for (Feedback f : latestPerKind.values()) {
                sum += f.getValue();
                parts.add(f.getKind() + "=" + f.getValue());
            }
            double value = sum / latestPerKind.size();
            b.addComponents(RewardComponent.newBuilder()
                    .setName(COMPONENT)
                    .setValue(value)
                    .setWeight(weight)
                    .setDetail(String.join(", ", parts) + " (latest per kind of " + feedback.size() + " record(s))"));
            reward += weight * value;
        }
        return b.setReward(reward).build();
    }
}
