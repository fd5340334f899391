package dev.katmesh.launcher.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KafkaAccessTest {

    static Set<String> grants(String user) {
        return KafkaAccess.acls().stream()
                .filter(b -> b.entry().principal().equals("User:" + user))
                .map(b -> b.entry().operation() + " " + b.pattern().resourceType() + " "
                        + b.pattern().name() + (b.pattern().patternType() == PatternType.PREFIXED ? "*" : ""))
                .collect(Collectors.toSet());
    }

    @Test
    void agentsMayOnlyWriteRawTrajectories() {
        assertEquals(Set.of("WRITE TOPIC katmesh.trajectories.raw"), grants("katmesh-agent"));
    }

    @Test
    void feedbackSendersMayOnlyWriteFeedbackAndNoAgentMay() {
        assertEquals(Set.of("WRITE TOPIC katmesh.feedback"), grants("katmesh-feedback"));
        for (String other : List.of("katmesh-agent", "katmesh-inference", "katmesh-learner", "katmesh-rollout")) {
            assertFalse(grants(other).contains("WRITE TOPIC katmesh.feedback"), other + " may not send verdicts");
        }
        assertTrue(
                grants("katmesh-reward")
                        .containsAll(List.of(
                                "READ TOPIC katmesh.feedback",
                                "READ TOPIC katmesh.feedback.join",
                                "WRITE TOPIC katmesh.feedback.join",
                                "WRITE TRANSACTIONAL_ID katmesh-reward-feedback-*",
                                "READ GROUP katmesh-reward-feedback")),
                grants("katmesh-reward").toString());
    }

    @Test
    void everyServiceAndTheAgentsHaveAKafkaUserFile() throws Exception {
        try (var files = Files.list(Path.of("../../kafka-topics/users"))) {
            assertEquals(
                    Set.of(
                            "katmesh-inference.yaml",
                            "katmesh-rollout.yaml",
                            "katmesh-reward.yaml",
                            "katmesh-learner.yaml",
                            "katmesh-agent.yaml",
                            "katmesh-feedback.yaml"),
                    files.map(f -> f.getFileName().toString()).collect(Collectors.toSet()),
                    "kafka-topics/users/ holds the users the launcher makes");
        }
    }

    @Test
    void servicesGetTheirRoleAndNoWildcards() {
        assertEquals(
                Set.of(
                        "READ TOPIC katmesh.trajectories.scored",
                        "WRITE TOPIC katmesh.policy.versions",
                        "READ GROUP katmesh-learner"),
                grants("katmesh-learner"));
        assertTrue(
                grants("katmesh-reward")
                        .containsAll(List.of(
                                "READ TOPIC katmesh.trajectories.raw",
                                "READ TOPIC katmesh.trajectories.rollout",
                                "WRITE TOPIC katmesh.trajectories.scored",
                                "WRITE TOPIC katmesh.trajectories.dlq",
                                "READ GROUP katmesh-reward",
                                // the sessions it assembles from the capture log go to raw
                                "READ TOPIC katmesh.capture.requests",
                                "WRITE TOPIC katmesh.trajectories.raw",
                                "READ GROUP katmesh-reward-capture")),
                grants("katmesh-reward").toString());
        assertEquals(
                Set.of(
                        "READ TOPIC katmesh.policy.versions",
                        "WRITE TOPIC katmesh.capture.requests",
                        "READ GROUP katmesh-inference-*"),
                grants("katmesh-inference"),
                "inference logs requests to the capture topic and writes no trajectory itself");
        assertFalse(grants("katmesh-inference").contains("WRITE TOPIC katmesh.trajectories.scored"));
        // A trajectory's source is the topic it was written to: only the rollout service may write rollouts.
        assertTrue(
                grants("katmesh-rollout").contains("WRITE TOPIC katmesh.trajectories.rollout"),
                grants("katmesh-rollout").toString());
        assertFalse(
                grants("katmesh-rollout").contains("WRITE TOPIC katmesh.trajectories.raw"),
                "rollouts never pass as deployed sessions");
        for (String other : List.of("katmesh-agent", "katmesh-inference", "katmesh-learner", "katmesh-reward")) {
            assertFalse(
                    grants(other).contains("WRITE TOPIC katmesh.trajectories.rollout"),
                    other + " may not write rollouts");
        }
        for (AclBinding b : KafkaAccess.acls()) {
            assertEquals(AclPermissionType.ALLOW, b.entry().permissionType());
            assertNotEquals(AclOperation.ALL, b.entry().operation(), b.toString());
            assertNotEquals("*", b.pattern().name(), "no ACL on every resource: " + b);
            assertNotEquals(ResourceType.CLUSTER, b.pattern().resourceType(), "no cluster rights: " + b);
            assertFalse(
                    b.entry().principal().equals("User:katmesh-admin")
                            || b.entry().principal().equals("User:katmesh-broker"),
                    "super users need no ACLs: " + b);
        }
    }

    @Test
    void passwordsAreMadeOnceAndKeptOwnerOnly(@TempDir Path dir) throws Exception {
        MeshLayout layout = new MeshLayout(dir, dir.resolve("data"));
        KafkaAccess first = KafkaAccess.load(layout);
        KafkaAccess again = KafkaAccess.load(layout);
        for (KafkaAccess.User u : KafkaAccess.User.values()) {
            assertEquals(first.password(u), again.password(u), u + " keeps its password across starts");
            assertTrue(first.password(u).length() >= 32, u.name);
        }
        assertNotEquals(
                first.password(KafkaAccess.User.AGENT),
                first.password(KafkaAccess.User.REWARD),
                "one password per user");
        assertEquals(
                "rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(KafkaAccess.file(layout))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(Secrets.dir(layout))));
    }

    @Test
    void theBrokerTakesOnlySaslOverTlsWithAnAuthorizer(@TempDir Path dir) {
        MeshLayout layout = new MeshLayout(dir, dir.resolve("data"));
        KafkaAccess access = KafkaAccess.load(layout);
        String props = EmbeddedKafka.serverProperties(9092, 9093, dir, access);
        assertTrue(props.contains("listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SASL_SSL"), props);
        MeshTls tls = MeshTls.of(layout);
        assertTrue(props.contains("ssl.keystore.location=" + tls.brokerKeyStore()), props);
        assertTrue(props.contains("ssl.truststore.location=" + tls.ca()), props);
        Map<String, String> client = access.clientConfig(KafkaAccess.User.AGENT);
        assertEquals("SASL_SSL", client.get("security.protocol"));
        assertEquals(tls.ca().toString(), client.get("ssl.truststore.location"), "clients trust the mesh's CA");
        assertTrue(
                props.contains("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"), props);
        assertTrue(props.contains("allow.everyone.if.no.acl.found=false"), props);
        assertFalse(props.contains("PLAINTEXT://"), "no plaintext listener in secure mode: " + props);
        assertTrue(
                EmbeddedKafka.serverProperties(9092, 9093, dir, null).contains("listeners=PLAINTEXT://127.0.0.1:9092"));
    }
}
