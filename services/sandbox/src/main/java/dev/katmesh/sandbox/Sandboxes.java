package dev.katmesh.sandbox;

import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The sandbox a service uses, chosen by its environment (the chart sets these):
 *
 * <ul>
 *   <li>{@code KATMESH_SANDBOX_MODE}: {@code local} (default: bubblewrap in the service's own pod or
 *       machine) or {@code kubernetes} (one Job per run);
 *   <li>for {@code kubernetes}: {@code KATMESH_SANDBOX_IMAGE} (the image commands run in),
 *       {@code KATMESH_SANDBOX_SERVICE_ACCOUNT} (the token-less sandbox account) and
 *       {@code KATMESH_SANDBOX_NAMESPACE} (default: the pod's own namespace).
 * </ul>
 */
public final class Sandboxes {

    static final Path POD_NAMESPACE = Path.of("/var/run/secrets/kubernetes.io/serviceaccount/namespace");

    private Sandboxes() {}

    public static Sandbox fromEnvironment(Map<String, String> env) {
        String mode = env.getOrDefault("KATMESH_SANDBOX_MODE", "local").trim();
        return switch (mode) {
            case "", "local" -> new BubblewrapSandbox();
            case "kubernetes" ->
                new KubernetesJobSandbox(
                        new KubernetesClientBuilder().build(),
                        namespace(env),
                        required(env, "KATMESH_SANDBOX_IMAGE"),
                        required(env, "KATMESH_SANDBOX_SERVICE_ACCOUNT"));
            default ->
                throw new IllegalArgumentException(
                        "KATMESH_SANDBOX_MODE must be local or kubernetes, not '" + mode + "'");
        };
    }

    private static String namespace(Map<String, String> env) {
        String ns = env.get("KATMESH_SANDBOX_NAMESPACE");
        if (ns != null && !ns.isBlank()) {
            return ns.trim();
        }
        try {
            return Files.isRegularFile(POD_NAMESPACE)
                    ? Files.readString(POD_NAMESPACE).trim()
                    : "default";
        } catch (IOException e) {
            return "default";
        }
    }

    private static String required(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("KATMESH_SANDBOX_MODE=kubernetes needs " + name);
        }
        return v.trim();
    }
}
