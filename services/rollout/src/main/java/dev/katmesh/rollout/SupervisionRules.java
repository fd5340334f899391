package dev.katmesh.rollout;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RolloutSupervision;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.jboss.logging.Logger;

/**
 * The supervision rule of each policy version, as the learner announced it (its stage's rollout_supervision, on
 * katmesh.policy.versions): an episode is supervised under the rule of the version that generated its last turn, so
 * a curriculum stage decides how its own rollouts are watched. Versions announced without a rule, and versions not
 * yet seen, are not supervised.
 */
@ApplicationScoped
public class SupervisionRules {

    private static final Logger LOG = Logger.getLogger(SupervisionRules.class);

    /** What the rollout needs of a version: its stage's name and its rule (null: none). */
    record Announced(String stage, RolloutSupervision rule) {}

    @Inject
    MeterRegistry registry;

    private final Map<Long, Announced> versions = new ConcurrentHashMap<>();

    @Incoming("policy-versions")
    public void onVersion(byte[] payload) {
        try {
            PolicyVersion v = PolicyVersion.parseFrom(payload);
            versions.put(
                    v.getVersion(),
                    new Announced(v.getStage(), v.hasRolloutSupervision() ? v.getRolloutSupervision() : null));
        } catch (InvalidProtocolBufferException e) {
            registry.counter("katmesh.rollout.versions.unreadable").increment();
            LOG.warnf("ignoring an unreadable record on katmesh.policy.versions: %s", e.getMessage());
        }
    }

    /** The rule of {@code version}, or null. */
    public RolloutSupervision ruleOf(long version) {
        Announced a = versions.get(version);
        return a == null ? null : a.rule();
    }

    /** The stage that produced {@code version}, or "" when not seen. */
    public String stageOf(long version) {
        Announced a = versions.get(version);
        return a == null ? "" : a.stage();
    }
}
