package dev.katmesh.sandbox;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SandboxesTest {

    @Test
    void theEnvironmentChoosesTheSandbox() {
        assertInstanceOf(BubblewrapSandbox.class, Sandboxes.fromEnvironment(Map.of()));
        assertInstanceOf(BubblewrapSandbox.class, Sandboxes.fromEnvironment(Map.of("KATMESH_SANDBOX_MODE", "local")));
        assertInstanceOf(
                KubernetesJobSandbox.class,
                Sandboxes.fromEnvironment(Map.of(
                        "KATMESH_SANDBOX_MODE",
                        "kubernetes",
                        "KATMESH_SANDBOX_IMAGE",
                        "python:3.12-slim",
                        "KATMESH_SANDBOX_SERVICE_ACCOUNT",
                        "km-sandbox",
                        "KATMESH_SANDBOX_NAMESPACE",
                        "ns")));
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> Sandboxes.fromEnvironment(Map.of("KATMESH_SANDBOX_MODE", "kubernetes")));
        assertTrue(e.getMessage().contains("KATMESH_SANDBOX_IMAGE"), e.getMessage());
        assertThrows(
                IllegalArgumentException.class,
                () -> Sandboxes.fromEnvironment(Map.of("KATMESH_SANDBOX_MODE", "docker")));
    }
}
