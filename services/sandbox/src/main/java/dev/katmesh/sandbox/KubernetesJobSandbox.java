package dev.katmesh.sandbox;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The sandbox on a cluster: each run is a Kubernetes Job. The workspace's files travel in a ConfigMap
 * (copied into an emptyDir by an init container); the pod runs as non-root with a read-only root,
 * no capabilities, no service-account token, resource limits, limits set with ulimit, a deadline,
 * and the label {@value #SANDBOX_LABEL}=true that the chart's deny-egress NetworkPolicy selects. Its
 * log is the output (stdout and stderr together); the Job is removed by its TTL and the ConfigMap at once.
 */
public final class KubernetesJobSandbox implements Sandbox {

    /** The label the deny-egress NetworkPolicy selects. */
    public static final String SANDBOX_LABEL = "katmesh.dev/sandbox";

    static final int TTL_SECONDS = 300;
    static final long MAX_WORKSPACE_BYTES = 900 * 1024; // ConfigMaps hold at most 1 MiB

    private final KubernetesClient client;
    private final String namespace;
    private final String image;
    private final String serviceAccount;

    /**
     * @param image          the image the commands run in (needs sh and cp)
     * @param serviceAccount the sandbox service account (the chart's {@code <release>-sandbox}, no token)
     */
    public KubernetesJobSandbox(KubernetesClient client, String namespace, String image, String serviceAccount) {
        this.client = client;
        this.namespace = namespace;
        this.image = image;
        this.serviceAccount = serviceAccount;
    }

    @Override
    public SandboxResult run(List<String> command, Path workspace, SandboxLimits limits)
            throws IOException, InterruptedException {
        String name = "katmesh-sbx-" + UUID.randomUUID().toString().substring(0, 12);
        ConfigMap files = workspaceConfigMap(name, workspace);
        long start = System.nanoTime();
        client.configMaps().inNamespace(namespace).resource(files).create();
        try {
            client.batch()
                    .v1()
                    .jobs()
                    .inNamespace(namespace)
                    .resource(job(name, files, command, limits))
                    .create();
            return await(name, limits, start);
        } catch (KubernetesClientException e) {
            throw new IOException("the sandbox Job " + name + " failed: " + e.getMessage(), e);
        } finally {
            client.configMaps().inNamespace(namespace).withName(name).delete();
        }
    }

    /** The workspace's regular files, as a ConfigMap whose items restore their paths. */
    ConfigMap workspaceConfigMap(String name, Path workspace) throws IOException {
        Map<String, String> data = new LinkedHashMap<>();
        List<String> paths = new ArrayList<>();
        long total = 0;
        if (workspace != null && Files.isDirectory(workspace)) {
            try (var walk = Files.walk(workspace)) {
                for (Path f : walk.filter(Files::isRegularFile).sorted().toList()) {
                    byte[] bytes = Files.readAllBytes(f);
                    total += bytes.length;
                    if (total > MAX_WORKSPACE_BYTES) {
                        throw new IOException("workspace " + workspace + " exceeds " + MAX_WORKSPACE_BYTES
                                + " bytes, too large for a ConfigMap");
                    }
                    data.put("f" + data.size(), Base64.getEncoder().encodeToString(bytes));
                    paths.add(workspace.relativize(f).toString());
                }
            }
        }
        // Keys must be simple names: file i is key f<i>, its workspace path line i of "paths".
        return new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels(SANDBOX_LABEL, "input")
                .endMetadata()
                .withBinaryData(data)
                .addToData("paths", String.join("\n", paths))
                .build();
    }

    Job job(String name, ConfigMap files, List<String> command, SandboxLimits limits) {
        List<KeyToPath> items = new ArrayList<>();
        String paths = files.getData().getOrDefault("paths", "");
        List<String> pathList = paths.isEmpty() ? List.of() : List.of(paths.split("\n"));
        for (int i = 0; i < pathList.size(); i++) {
            items.add(new KeyToPath("f" + i, null, pathList.get(i)));
        }
        long memoryMb = Math.max(64, limits.memoryBytes() >> 20);
        // ulimit inside: processes, address space, CPU seconds, file size; then the command.
        String wrapper = "ulimit -u " + limits.maxProcesses() + " -v " + (limits.memoryBytes() >> 10) + " -t "
                + limits.cpuSeconds() + " -f " + (limits.maxFileBytes() >> 10) + "; cd /workspace && exec \"$@\"";
        List<String> args = new ArrayList<>(List.of("sh", "-c", wrapper, "sandbox"));
        args.addAll(command);
        Map<String, Quantity> resources = Map.of("memory", new Quantity(memoryMb + "Mi"), "cpu", new Quantity("1"));
        return new JobBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels(SANDBOX_LABEL, "true")
                .addToLabels("app.kubernetes.io/name", "katmesh")
                .endMetadata()
                .withNewSpec()
                .withBackoffLimit(0)
                .withActiveDeadlineSeconds(Math.max(1, limits.wallTime().toSeconds()))
                .withTtlSecondsAfterFinished(TTL_SECONDS)
                .withNewTemplate()
                .withNewMetadata()
                .addToLabels(SANDBOX_LABEL, "true")
                .addToLabels("job-name", name)
                .endMetadata()
                .withNewSpec()
                .withRestartPolicy("Never")
                .withServiceAccountName(serviceAccount)
                .withAutomountServiceAccountToken(false)
                .withEnableServiceLinks(false)
                .withNewSecurityContext()
                .withRunAsNonRoot(true)
                .withRunAsUser(65534L)
                .withRunAsGroup(65534L)
                .withFsGroup(65534L)
                .endSecurityContext()
                .addNewInitContainer()
                .withName("workspace")
                .withImage(image)
                .withCommand("sh", "-c", "cp -rL /input/. /workspace/ 2>/dev/null; true")
                .addNewVolumeMount()
                .withName("input")
                .withMountPath("/input")
                .withReadOnly(true)
                .endVolumeMount()
                .addNewVolumeMount()
                .withName("workspace")
                .withMountPath("/workspace")
                .endVolumeMount()
                .withNewSecurityContext()
                .withAllowPrivilegeEscalation(false)
                .withReadOnlyRootFilesystem(true)
                .withNewCapabilities()
                .withDrop("ALL")
                .endCapabilities()
                .endSecurityContext()
                .endInitContainer()
                .addNewContainer()
                .withName("run")
                .withImage(image)
                .withCommand(args)
                .withNewResources()
                .withLimits(resources)
                .withRequests(Map.of("cpu", new Quantity("100m"), "memory", new Quantity("64Mi")))
                .endResources()
                .addNewVolumeMount()
                .withName("workspace")
                .withMountPath("/workspace")
                .endVolumeMount()
                .addNewVolumeMount()
                .withName("tmp")
                .withMountPath("/tmp")
                .endVolumeMount()
                .withNewSecurityContext()
                .withAllowPrivilegeEscalation(false)
                .withReadOnlyRootFilesystem(true)
                .withNewCapabilities()
                .withDrop("ALL")
                .endCapabilities()
                .endSecurityContext()
                .endContainer()
                .addNewVolume()
                .withName("input")
                .withNewConfigMap()
                .withName(name)
                .withItems(items)
                .endConfigMap()
                .endVolume()
                .addNewVolume()
                .withName("workspace")
                .withNewEmptyDir()
                .withSizeLimit(new Quantity(Math.max(1, limits.maxFileBytes() >> 20) * 4 + "Mi"))
                .endEmptyDir()
                .endVolume()
                .addNewVolume()
                .withName("tmp")
                .withNewEmptyDir()
                .withMedium("Memory")
                .withSizeLimit(new Quantity("64Mi"))
                .endEmptyDir()
                .endVolume()
                .endSpec()
                .endTemplate()
                .endSpec()
                .build();
    }

    /** Waits for the Job's pod to end (or the deadline, plus a margin for scheduling) and reads its verdict. */
    private SandboxResult await(String name, SandboxLimits limits, long start) throws InterruptedException {
        long deadline = start + limits.wallTime().toNanos() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Job job = client.batch()
                    .v1()
                    .jobs()
                    .inNamespace(namespace)
                    .withName(name)
                    .get();
            Pod pod = client.pods().inNamespace(namespace).withLabel("job-name", name).list().getItems().stream()
                    .findFirst()
                    .orElse(null);
            ContainerStateTerminated ended =
                    pod == null || pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
                            ? null
                            : pod.getStatus().getContainerStatuses().stream()
                                    .filter(s ->
                                            s.getState() != null && s.getState().getTerminated() != null)
                                    .map(s -> s.getState().getTerminated())
                                    .findFirst()
                                    .orElse(null);
            boolean deadlineExceeded = job != null
                    && job.getStatus() != null
                    && job.getStatus().getConditions() != null
                    && job.getStatus().getConditions().stream().anyMatch(c -> "DeadlineExceeded".equals(c.getReason()));
            if (ended != null || deadlineExceeded) {
                long wallMs = (System.nanoTime() - start) / 1_000_000;
                String log = log(pod, limits.maxOutputBytes());
                boolean truncated = log.length() >= limits.maxOutputBytes();
                if (deadlineExceeded && ended == null) {
                    return new SandboxResult(Verdict.TIMEOUT, 137, log, "", truncated, wallMs);
                }
                int exit = ended.getExitCode() == null ? -1 : ended.getExitCode();
                Verdict v = "OOMKilled".equals(ended.getReason())
                        ? Verdict.MEMORY
                        : deadlineExceeded || exit == 128 + 24
                                ? Verdict.TIMEOUT
                                : exit == 0 ? Verdict.OK : exit > 128 ? Verdict.KILLED : Verdict.NONZERO_EXIT;
                return new SandboxResult(v, exit, log, "", truncated, wallMs);
            }
            Thread.sleep(250);
        }
        client.batch().v1().jobs().inNamespace(namespace).withName(name).delete();
        return new SandboxResult(
                Verdict.TIMEOUT,
                137,
                "",
                "the sandbox Job did not finish (not scheduled?)",
                false,
                (System.nanoTime() - start) / 1_000_000);
    }

    private String log(Pod pod, int cap) {
        if (pod == null) {
            return "";
        }
        try {
            String log = client.pods()
                    .inNamespace(namespace)
                    .withName(pod.getMetadata().getName())
                    .inContainer("run")
                    .getLog();
            return log == null ? "" : log.length() > cap ? log.substring(0, cap) : log;
        } catch (KubernetesClientException e) {
            return ""; // logs are gone or not served: the verdict still stands
        }
    }
}
