package dev.katmesh.learner;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One published policy version. {@code heldoutPassRate} is NaN when the version was not evaluated;
 * {@code heldoutByFamily} splits the evaluation by task family (template), empty when there was none
 * (or in a history written before it was recorded). {@code validationByFamily} is the same for the
 * validation split's tasks, evaluated beside the held-out ones.
 */
public record VersionPoint(
        long version,
        String stage,
        long step,
        long stageStep,
        double loss,
        double rewardMean,
        double heldoutPassRate,
        int heldoutPassed,
        int heldoutTotal,
        long trajectoriesTrained,
        long createdAtMs,
        long evalMs,
        Map<String, FamilyScore> heldoutByFamily,
        Map<String, FamilyScore> validationByFamily) {
    public VersionPoint {
        heldoutByFamily =
                heldoutByFamily == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(heldoutByFamily));
        validationByFamily =
                validationByFamily == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(validationByFamily));
    }

    /** The validation split's tasks passed and evaluated (the split that chooses plans and settings). */
    public FamilyScore validation() {
        return new FamilyScore(
                validationByFamily.values().stream()
                        .mapToInt(FamilyScore::passed)
                        .sum(),
                validationByFamily.values().stream()
                        .mapToInt(FamilyScore::total)
                        .sum());
    }

    /** This point as /katmesh/progress shows it (snake_case; NaN figures as null). */
    void write(ObjectNode v) {
        v.put("version", version());
        v.put("stage", stage());
        v.put("step", step());
        v.put("stage_step", stageStep());
        putNumber(v, "loss", loss());
        putNumber(v, "reward_mean", rewardMean());
        putNumber(v, "heldout_pass_rate", heldoutPassRate());
        if (heldoutTotal() > 0) {
            v.put("heldout_passed", heldoutPassed());
            v.put("heldout_total", heldoutTotal());
        }
        if (!heldoutByFamily().isEmpty()) {
            ObjectNode f = v.putObject("heldout_by_family");
            heldoutByFamily()
                    .forEach((family, score) ->
                            f.putObject(family).put("passed", score.passed()).put("total", score.total()));
        }
        if (!validationByFamily().isEmpty()) {
            FamilyScore val = validation();
            v.put("validation_pass_rate", val.total() == 0 ? 0 : (double) val.passed() / val.total());
            v.put("validation_passed", val.passed());
            v.put("validation_total", val.total());
            ObjectNode f = v.putObject("validation_by_family");
            validationByFamily()
                    .forEach((family, score) ->
                            f.putObject(family).put("passed", score.passed()).put("total", score.total()));
        }
        v.put("trajectories_trained", trajectoriesTrained());
        v.put("created_at_ms", createdAtMs());
    }

    private static void putNumber(ObjectNode o, String name, double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            o.putNull(name);
        } else {
            o.put(name, v);
        }
    }

    /** Tasks of one family passed, of those evaluated. */
    public record FamilyScore(int passed, int total) {}
}
