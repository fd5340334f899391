package dev.katmesh.reward;

import dev.katmesh.proto.v1.Redaction;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.RejectReason;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.secrets.SecretRule;
import dev.katmesh.secrets.SecretRules;
import dev.katmesh.secrets.SecretScanner;
import dev.katmesh.secrets.TrajectoryRedactor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Keeps secrets out of the scored topic, per source: {@code redact} replaces each with a placeholder on the scored
 * record (after scoring, which needs the real outcome), {@code reject} dead-letters the record with reason
 * {@link RejectReason#SECRET} before scoring, {@code off} lets it through. Detections are counted in
 * {@code katmesh_reward_secrets_total{rule,source,action}}.
 */
@ApplicationScoped
class SecretGate {

    /** What happens to a trajectory holding a secret. */
    enum Action {
        REDACT,
        REJECT,
        OFF
    }

    private final Map<TrajectorySource, Action> actions;
    private final TrajectoryRedactor redactor;
    private final MeterRegistry registry;

    @Inject
    SecretGate(
            MeterRegistry registry,
            // What to do with a deployed agent's trajectory (katmesh.trajectories.raw) holding a secret:
            // redact, reject or off.
            @ConfigProperty(name = "katmesh.reward.secrets.deployed", defaultValue = "redact") String deployed,
            // The same for the rollout service's trajectories (katmesh.trajectories.rollout).
            @ConfigProperty(name = "katmesh.reward.secrets.rollout", defaultValue = "redact") String rollout,
            // Built-in rules to turn off, by name (e.g. high-entropy where it raises false alarms).
            @ConfigProperty(name = "katmesh.reward.secrets.disabled-rules") Optional<Set<String>> disabled,
            // A file of the operator's own rules, one name=regex a line (the first capturing group is the secret).
            @ConfigProperty(name = "katmesh.reward.secrets.rules-file") Optional<String> rulesFile) {
        this.registry = registry;
        this.actions = Map.of(
                TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, action("deployed", deployed),
                TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT, action("rollout", rollout));
        List<SecretRule> extra = rulesFile.map(SecretGate::readRules).orElse(List.of());
        List<SecretRule> rules = SecretRules.select(disabled.orElse(Set.of()), extra);
        this.redactor = new TrajectoryRedactor(new SecretScanner(rules));
        for (SecretRule r : rules) { // at zero: dashboards see every rule before its first detection
            for (TrajectorySource s : actions.keySet()) {
                counter(r.name(), s, actions.get(s));
            }
        }
    }

    /** For a source set to reject: the reason to dead-letter {@code t} with, or null when it may be scored. */
    RejectedTrajectoryException rejects(Trajectory t) {
        if (action(t) != Action.REJECT) {
            return null;
        }
        List<Redaction> found = redactor.find(t);
        if (found.isEmpty()) {
            return null;
        }
        count(found, t.getSource(), Action.REJECT);
        return new RejectedTrajectoryException(
                RejectReason.SECRET,
                "secrets found (" + summary(found) + "); " + Topics.sourceTag(t.getSource())
                        + " trajectories with secrets are rejected (katmesh.reward.secrets."
                        + Topics.sourceTag(t.getSource()) + "=reject)");
    }

    /** For a source set to redact: the scored record with its secrets replaced; otherwise {@code scored} as it is. */
    ScoredTrajectory redact(ScoredTrajectory scored) {
        Trajectory t = scored.getTrajectory();
        if (action(t) != Action.REDACT) {
            return scored;
        }
        ScoredTrajectory redacted = redactor.redact(scored);
        count(redacted.getRedactionsList(), t.getSource(), Action.REDACT);
        return redacted;
    }

    private Action action(Trajectory t) {
        return actions.getOrDefault(t.getSource(), Action.REDACT);
    }

    private void count(List<Redaction> found, TrajectorySource source, Action action) {
        found.forEach(r -> counter(r.getRule(), source, action).increment());
    }

    private Counter counter(String rule, TrajectorySource source, Action action) {
        return registry.counter(
                "katmesh.reward.secrets",
                "rule",
                rule,
                "source",
                Topics.sourceTag(source),
                "action",
                action.name().toLowerCase(Locale.ROOT));
    }

    /** "github-token x2 in messages[3].content, ..." : the rules and where, never the secret. */
    static String summary(List<Redaction> found) {
        Map<String, Long> byRule =
                found.stream().collect(Collectors.groupingBy(Redaction::getRule, TreeMap::new, Collectors.counting()));
        List<String> fields = found.stream().map(Redaction::getField).distinct().toList();
        return byRule.entrySet().stream()
                        .map(e -> e.getKey() + " x" + e.getValue())
                        .collect(Collectors.joining(", "))
                + " in " + String.join(", ", fields.subList(0, Math.min(5, fields.size())))
                + (fields.size() > 5 ? ", ..." : "");
    }

    private static Action action(String source, String value) {
        try {
            return Action.valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "katmesh.reward.secrets." + source + " is redact, reject or off, got: " + value, e);
        }
    }

    private static List<SecretRule> readRules(String file) {
        try {
            return SecretRules.parse(Files.readAllLines(Path.of(file)));
        } catch (IOException e) {
            throw new UncheckedIOException("katmesh.reward.secrets.rules-file " + file + " cannot be read", e);
        }
    }
}
