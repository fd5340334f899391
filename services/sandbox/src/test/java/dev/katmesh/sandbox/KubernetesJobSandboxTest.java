package dev.katmesh.sandbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Job sandbox against fabric8's API server mock in CRUD mode. Nothing runs pods there, so the
 * test plays the kubelet: it waits for the Job and records how its pod ended.
 */
@EnableKubernetesMockClient(crud = true)
class KubernetesJobSandboxTest {

    static KubernetesClient client;

    @TempDir
    Path workspace;

    /** Plays the kubelet for the next Job: creates its pod, terminated with the given exit code and reason. */
    Thread kubelet(int exitCode, String reason, AtomicReference<Job> seen, AtomicReference<ConfigMap> input) {
        Thread t = new Thread(() -> {
            try {
                for (int i = 0; i < 200; i++) {
                    List<Job> jobs = client.batch()
                            .v1()
                            .jobs()
                            .inNamespace("agents")
                            .list()
                            .getItems();
                    if (!jobs.isEmpty()) {
                        Job job = jobs.get(0);
                        seen.set(job);
                        input.set(client.configMaps()
                                .inNamespace("agents")
                                .withName(job.getMetadata().getName())
                                .get());
                        Pod pod = new PodBuilder()
                                .withNewMetadata()
                                .withName(job.getMetadata().getName() + "-x")
                                .addToLabels("job-name", job.getMetadata().getName())
                                .endMetadata()
                                .withNewStatus()
                                .addNewContainerStatus()
                                .withName("run")
                                .withNewState()
                                .withNewTerminated()
                                .withExitCode(exitCode)
                                .withReason(reason)
                                .endTerminated()
                                .endState()
                                .endContainerStatus()
                                .endStatus()
                                .build();
                        client.pods().inNamespace("agents").resource(pod).create();
                        return;
                    }
                    Thread.sleep(50);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        t.start();
        return t;
    }

    @Test
    void aRunIsAnIsolatedJobAndItsVerdictComesFromThePod() throws Exception {
        Files.writeString(workspace.resolve("solution.py"), "print('hi')\n");
        Files.createDirectories(workspace.resolve("tests"));
        Files.writeString(workspace.resolve("tests/test_it.py"), "assert True\n");
        KubernetesJobSandbox sandbox = new KubernetesJobSandbox(client, "agents", "python:3.12-slim", "km-sandbox");
        AtomicReference<Job> job = new AtomicReference<>();
        AtomicReference<ConfigMap> input = new AtomicReference<>();
        Thread k = kubelet(0, "Completed", job, input);
        SandboxLimits limits =
                SandboxLimits.defaults().withWallTime(Duration.ofSeconds(20)).withMemoryBytes(512L << 20);
        SandboxResult ok = sandbox.run(List.of("python3", "solution.py"), workspace, limits);
        k.join();
        assertEquals(Verdict.OK, ok.verdict());

        Job j = job.get();
        assertEquals(
                "true",
                j.getMetadata().getLabels().get(KubernetesJobSandbox.SANDBOX_LABEL),
                "the deny-egress policy selects it");
        assertEquals(0, j.getSpec().getBackoffLimit());
        assertEquals(20L, j.getSpec().getActiveDeadlineSeconds());
        assertEquals(KubernetesJobSandbox.TTL_SECONDS, j.getSpec().getTtlSecondsAfterFinished(), "cleaned up by TTL");
        PodSpec pod = j.getSpec().getTemplate().getSpec();
        assertEquals(Boolean.FALSE, pod.getAutomountServiceAccountToken(), "no service-account token");
        assertEquals("km-sandbox", pod.getServiceAccountName());
        assertEquals(
                "true", j.getSpec().getTemplate().getMetadata().getLabels().get(KubernetesJobSandbox.SANDBOX_LABEL));
        assertTrue(pod.getSecurityContext().getRunAsNonRoot());
        Container run = pod.getContainers().get(0);
        assertEquals(new Quantity("512Mi"), run.getResources().getLimits().get("memory"));
        assertTrue(run.getSecurityContext().getReadOnlyRootFilesystem());
        assertFalse(run.getSecurityContext().getAllowPrivilegeEscalation());
        assertEquals(List.of("ALL"), run.getSecurityContext().getCapabilities().getDrop());
        assertTrue(
                run.getCommand().get(2).contains("ulimit -u 64"),
                run.getCommand().toString());
        assertEquals(List.of("python3", "solution.py"), run.getCommand().subList(4, 6));
        assertEquals(2, input.get().getBinaryData().size(), "the workspace's files travel in a ConfigMap");
        assertTrue(
                pod.getVolumes().stream()
                        .anyMatch(v -> v.getConfigMap() != null
                                && v.getConfigMap().getItems().stream()
                                        .anyMatch(i -> i.getPath().equals("tests/test_it.py"))),
                "paths restored");
        assertEquals(
                null,
                client.configMaps()
                        .inNamespace("agents")
                        .withName(j.getMetadata().getName())
                        .get(),
                "the input ConfigMap is deleted");
    }

    @Test
    void failuresMapToVerdicts() throws Exception {
        KubernetesJobSandbox sandbox = new KubernetesJobSandbox(client, "agents", "python:3.12-slim", "km-sandbox");
        SandboxLimits limits = SandboxLimits.defaults().withWallTime(Duration.ofSeconds(20));
        record Case(int exit, String reason, Verdict verdict) {}
        for (Case c : List.of(
                new Case(3, "Error", Verdict.NONZERO_EXIT),
                new Case(137, "OOMKilled", Verdict.MEMORY),
                new Case(152, "Error", Verdict.TIMEOUT),
                new Case(137, "Error", Verdict.KILLED))) {
            client.batch().v1().jobs().inNamespace("agents").delete();
            client.pods().inNamespace("agents").delete();
            Thread.sleep(100);
            Thread k = kubelet(c.exit(), c.reason(), new AtomicReference<>(), new AtomicReference<>());
            SandboxResult r = sandbox.run(List.of("sh", "-c", "exit 3"), workspace, limits);
            k.join();
            assertEquals(c.verdict(), r.verdict(), c.toString());
            assertEquals(c.exit(), r.exitCode());
        }
    }
}
