package dev.katmesh.training;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.proto.v1.RolloutSupervision;
import java.util.Set;

/**
 * A stage's {@code rollout_supervision: {max_discrepancy: 0.9, patience: 2, grace_turns: 2, enforce: true}}: the rule
 * the learner announces with each version the stage publishes, under which the rollout service ends episodes that have
 * left every ground truth (the rule itself: policy.proto's RolloutSupervision; docs/algorithms.md).
 */
final class SupervisionRule {

    private static final Set<String> KEYS = Set.of("max_discrepancy", "patience", "grace_turns", "enforce");

    private SupervisionRule() {}

    /** The rule, or null when the stage has none. */
    static RolloutSupervision parse(JsonNode node, String stage, Curriculum.Kind kind, String where) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return null;
        }
        if (kind != Curriculum.Kind.POLICY_GRADIENT) {
            throw new IllegalArgumentException(
                    where + ": rollout_supervision watches the rollouts of a policy_gradient stage");
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException(
                    where + ": rollout_supervision must be a map, e.g. {max_discrepancy: 0.9}");
        }
        node.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException(
                        where + ": rollout_supervision has no key '" + k + "' (it takes " + KEYS + ")");
            }
        });
        double max = node.path("max_discrepancy").asDouble(0.9);
        int patience = node.path("patience").asInt(2);
        int grace = node.path("grace_turns").asInt(2);
        if (!(max > 0) || patience < 1 || grace < 0) {
            throw new IllegalArgumentException(where
                    + ": rollout_supervision needs max_discrepancy > 0, patience >= 1 and grace_turns >= 0, got " + max
                    + ", " + patience + ", " + grace);
        }
        return RolloutSupervision.newBuilder()
                .setMaxDiscrepancy(max)
                .setPatience(patience)
                .setGraceTurns(grace)
                .setEnforce(node.path("enforce").asBoolean(true))
                .setStage(stage)
                .build();
    }
}
