package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.wire.RejectReason;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretGateTest {

    static final String KEY = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8";

    static Trajectory holding(String text, TrajectorySource source) {
        return Trajectory.newBuilder()
                .setTrajectoryId("t")
                .setGroupId("g")
                .setSource(source)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("deploy with " + text))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("ok"))
                .addAllTokenIds(List.of(1, 2, 3))
                .build();
    }

    @Test
    void eachSourceGetsItsOwnAction() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SecretGate gate = new SecretGate(registry, "redact", "reject", Optional.empty(), Optional.empty());

        Trajectory rollout = holding(KEY, TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT);
        RejectedTrajectoryException e = gate.rejects(rollout);
        assertEquals(RejectReason.SECRET, e.reason());
        assertTrue(e.getMessage().contains("github-token x1 in messages[0].content"), e.getMessage());
        assertFalse(e.getMessage().contains(KEY), "the reason never holds the secret: " + e.getMessage());

        Trajectory deployed = holding(KEY, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED);
        assertNull(gate.rejects(deployed), "deployed is redacted, not rejected");
        ScoredTrajectory scored = gate.redact(
                ScoredTrajectory.newBuilder().setTrajectory(deployed).build());
        assertEquals(
                "deploy with [REDACTED:github-token]",
                scored.getTrajectory().getMessages(0).getContent());
        assertEquals(0, scored.getTrajectory().getTokenIdsCount(), "the tokens spelled the secret");
        assertEquals(1, scored.getRedactionsCount());

        assertEquals(1.0, count(registry, "github-token", "rollout", "reject"));
        assertEquals(1.0, count(registry, "github-token", "deployed", "redact"));
        assertEquals(0.0, count(registry, "jwt", "deployed", "redact"), "every rule is registered at zero");
    }

    @Test
    void offLetsSecretsThroughAndACleanRecordIsUntouched() {
        SecretGate gate =
                new SecretGate(new SimpleMeterRegistry(), "off", "redact", Optional.empty(), Optional.empty());
        ScoredTrajectory deployed = ScoredTrajectory.newBuilder()
                .setTrajectory(holding(KEY, TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED))
                .build();
        assertSame(deployed, gate.redact(deployed), "off: as it came");
        ScoredTrajectory clean = ScoredTrajectory.newBuilder()
                .setTrajectory(holding("the usual settings", TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT))
                .build();
        assertSame(clean, gate.redact(clean), "nothing found: the same record, token ids kept");
    }

    @Test
    void operatorsRulesAndSwitchesAreRead(@TempDir Path dir) throws Exception {
        Path rules = Files.writeString(dir.resolve("rules.txt"), "# ours\nacme-token=acme_[a-z0-9]{16}\n");
        SecretGate gate = new SecretGate(
                new SimpleMeterRegistry(),
                "reject",
                "reject",
                Optional.of(Set.of("github-token")),
                Optional.of(rules.toString()));
        assertNull(
                gate.rejects(holding("ghp_" + "x".repeat(36), TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)),
                "github-token is off");
        assertEquals(
                RejectReason.SECRET,
                gate.rejects(holding("acme_0123456789abcdef", TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED))
                        .reason());
        IllegalArgumentException bad = assertThrows(
                IllegalArgumentException.class,
                () -> new SecretGate(new SimpleMeterRegistry(), "drop", "redact", Optional.empty(), Optional.empty()));
        assertTrue(
                bad.getMessage().contains("katmesh.reward.secrets.deployed is redact, reject or off"),
                bad.getMessage());
    }

    private static double count(SimpleMeterRegistry r, String rule, String source, String action) {
        return r.get("katmesh.reward.secrets")
                .tag("rule", rule)
                .tag("source", source)
                .tag("action", action)
                .counter()
                .count();
    }
}
