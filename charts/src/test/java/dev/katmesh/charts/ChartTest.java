package dev.katmesh.charts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The chart, linted and rendered with Helm (helm-java), parsed with the fabric8 Kubernetes model. */
class ChartTest {

    static final Path CHART = Path.of("katmesh");
    static final Path TOPICS = Path.of("../kafka-topics");

    static List<HasMetadata> render(Map<String, Object> values) {
        TemplateCommand t = new Helm(CHART).template().withName("km").withNamespace("agents");
        values.forEach(t::set);
        String yaml = t.call();
        List<HasMetadata> out = new ArrayList<>();
        for (String doc : yaml.split("(?m)^---\\s*$")) {
            if (doc.replaceAll("(?m)^#.*$", "").isBlank()) {
                continue;
            }
            Object parsed = Serialization.unmarshal(doc);
            if (parsed instanceof KubernetesList list) {
                out.addAll(list.getItems());
            } else {
                out.add((HasMetadata) parsed);
            }
        }
        return out;
    }

    static <T extends HasMetadata> List<T> ofKind(List<HasMetadata> all, Class<T> type) {
        return all.stream().filter(type::isInstance).map(type::cast).toList();
    }

    static <T extends HasMetadata> T named(List<HasMetadata> all, Class<T> type, String name) {
        return ofKind(all, type).stream()
                .filter(r -> r.getMetadata().getName().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name));
    }

    @Test
    void lintsCleanInStrictMode() {
        LintResult lint = new Helm(CHART).lint().strict().call();
        assertFalse(lint.isFailed(), "helm lint --strict: " + lint.getMessages());
    }

    @Test
    void everyServiceHasProbesStandardLabelsAndScrapeAnnotations() {
        List<HasMetadata> all = render(Map.of());
        List<PodSpec> pods = new ArrayList<>();
        ofKind(all, Deployment.class)
                .forEach(d -> pods.add(d.getSpec().getTemplate().getSpec()));
        ofKind(all, StatefulSet.class)
                .forEach(s -> pods.add(s.getSpec().getTemplate().getSpec()));
        assertEquals(4, pods.size(), "inference, rollout, reward deployments and the learner statefulset");
        for (PodSpec pod : pods) {
            for (Container c : pod.getContainers()) {
                assertEquals("/q/health/live", c.getLivenessProbe().getHttpGet().getPath(), c.getName());
                assertEquals(
                        "/q/health/ready", c.getReadinessProbe().getHttpGet().getPath(), c.getName());
            }
        }
        for (HasMetadata r : all) {
            assertEquals(
                    "katmesh",
                    r.getMetadata().getLabels().get("app.kubernetes.io/name"),
                    r.getKind() + " " + r.getMetadata().getName());
            assertNotNull(r.getMetadata().getLabels().get("app.kubernetes.io/instance"));
        }
        Deployment inference = named(all, Deployment.class, "km-inference");
        assertEquals(
                "true",
                inference.getSpec().getTemplate().getMetadata().getAnnotations().get("prometheus.io/scrape"));
        assertTrue(ofKind(all, HorizontalPodAutoscaler.class).isEmpty(), "no autoscalers unless asked");
        assertTrue(all.stream().noneMatch(r -> r.getKind().equals("ServiceMonitor")), "no ServiceMonitor unless asked");
    }

    @Test
    void theLearnerRunsOnGpusWhenAsked() {
        StatefulSet cpu = named(render(Map.of()), StatefulSet.class, "km-learner");
        Container c = cpu.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertFalse(c.getResources().getLimits().containsKey("nvidia.com/gpu"), "no GPU by default");
        assertTrue(c.getImage().startsWith("ghcr.io/katmesh/katmesh-learner:"), c.getImage());

        StatefulSet gpu = named(
                render(Map.of(
                        "learner.gpus",
                        2,
                        "learner.nodeSelector.pool",
                        "a100",
                        "learner.tolerations[0].key",
                        "nvidia.com/gpu",
                        "learner.tolerations[0].operator",
                        "Exists",
                        "learner.tolerations[0].effect",
                        "NoSchedule")),
                StatefulSet.class,
                "km-learner");
        PodSpec pod = gpu.getSpec().getTemplate().getSpec();
        Container g = pod.getContainers().get(0);
        assertEquals(new Quantity("2"), g.getResources().getLimits().get("nvidia.com/gpu"));
        assertTrue(g.getImage().startsWith("ghcr.io/katmesh/katmesh-learner-gpu:"), g.getImage());
        assertEquals(
                "gpu:0,gpu:1",
                g.getEnv().stream()
                        .filter(e -> e.getName().equals("KATMESH_LEARNER_DEVICES"))
                        .findFirst()
                        .orElseThrow()
                        .getValue(),
                "data-parallel across both GPUs");
        assertEquals(Map.of("pool", "a100"), pod.getNodeSelector());
        assertEquals("nvidia.com/gpu", pod.getTolerations().get(0).getKey());
        assertEquals("NoSchedule", pod.getTolerations().get(0).getEffect());
        assertEquals(
                "checkpoints",
                gpu.getSpec().getVolumeClaimTemplates().get(0).getMetadata().getName());
    }

    @Test
    void renderedTopicsEqualKafkaTopicsDirectory() throws IOException {
        assertRenderedAsFiles(render(Map.of("kafka.clusterName", "prod-kafka")), "KafkaTopic", TOPICS, "prod-kafka");
    }

    @Test
    void eachFeedbackSenderGetsItsOwnTopicUserAndScope() throws IOException {
        List<HasMetadata> all = render(Map.of(
                "reward.feedbackSenders.ci-team-a[0]", "team-a-*",
                "reward.feedbackSenders.ci-team-a[1]", "ops-bot",
                "reward.feedbackSenders.shared[0]", "ops-*",
                "kafka.createUsers", "true",
                "kafka.securityProtocol", "SASL_SSL"));
        Map<String, GenericKubernetesResource> byName = new TreeMap<>();
        ofKind(all, GenericKubernetesResource.class)
                .forEach(r -> byName.put(r.getKind() + "/" + r.getMetadata().getName(), r));
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        GenericKubernetesResource topic = byName.get("KafkaTopic/katmesh.feedback.from.ci-team-a");
        assertTrue(topic != null, "the sender's topic: " + byName.keySet());
        assertEquals(
                yaml.readTree(TOPICS.resolve("katmesh.feedback.yaml").toFile()).path("spec"),
                yaml.valueToTree(topic.getAdditionalProperties().get("spec")),
                "declared as katmesh.feedback is");
        GenericKubernetesResource user = byName.get("KafkaUser/katmesh-feedback-ci-team-a");
        assertTrue(user != null, "the sender's user: " + byName.keySet());
        JsonNode acls = yaml.valueToTree(user.getAdditionalProperties().get("spec"))
                .path("authorization")
                .path("acls");
        assertEquals(1, acls.size(), "write its own topic, nothing else: " + acls);
        assertEquals(
                "katmesh.feedback.from.ci-team-a",
                acls.get(0).path("resource").path("name").asText());
        assertEquals("[\"Write\"]", acls.get(0).path("operations").toString());
        assertFalse(byName.containsKey("KafkaTopic/katmesh.feedback.from.shared"), "shared is katmesh.feedback");
        Map<String, String> env = new TreeMap<>();
        named(all, Deployment.class, "km-reward")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getEnv()
                .stream()
                .filter(e -> e.getValue() != null)
                .forEach(e -> env.put(e.getName(), e.getValue()));
        assertEquals(
                "ci-team-a=team-a-*,ops-bot;shared=ops-*",
                env.get("KATMESH_REWARD_FEEDBACK_SENDERS"),
                "the reward's scopes, the shared topic's narrowed");
    }

    /** Every YAML file of {@code dir} is rendered as one resource of {@code kind}, with its spec unchanged and the cluster label set. */
    static void assertRenderedAsFiles(List<HasMetadata> all, String kind, Path dir, String cluster) throws IOException {
        List<GenericKubernetesResource> rendered = ofKind(all, GenericKubernetesResource.class).stream()
                .filter(r -> r.getKind().equals(kind))
                .toList();
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertEquals(files.size(), rendered.size(), "one " + kind + " per file of " + dir);
        for (Path f : files) {
            JsonNode expected = yaml.readTree(f.toFile());
            GenericKubernetesResource r = rendered.stream()
                    .filter(t -> t.getMetadata()
                            .getName()
                            .equals(expected.path("metadata").path("name").asText()))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no rendered " + kind + " for " + f));
            assertEquals("kafka.strimzi.io/v1", r.getApiVersion());
            assertEquals(cluster, r.getMetadata().getLabels().get("strimzi.io/cluster"), "cluster label from values");
            assertEquals(
                    expected.path("spec"),
                    yaml.valueToTree(r.getAdditionalProperties().get("spec")),
                    "spec of " + f.getFileName());
        }
    }

    /** The pod spec of each workload (Deployment or StatefulSet), by component label. */
    static Map<String, PodSpec> podsByComponent(List<HasMetadata> all) {
        Map<String, PodSpec> pods = new TreeMap<>();
        for (HasMetadata w : all) {
            PodSpec pod = w instanceof Deployment d
                    ? d.getSpec().getTemplate().getSpec()
                    : w instanceof StatefulSet st ? st.getSpec().getTemplate().getSpec() : null;
            if (pod != null) {
                pods.put(w.getMetadata().getLabels().get("app.kubernetes.io/component"), pod);
            }
        }
        return pods;
    }

    @Test
    void sandboxJobsGetNoTokenNoEgressAndLeastPrivilege() {
        List<HasMetadata> all = render(Map.of());
        assertEquals(
                Boolean.FALSE,
                named(all, ServiceAccount.class, "km-sandbox").getAutomountServiceAccountToken(),
                "sandbox Jobs mount no service-account token");
        NetworkPolicy deny = named(all, NetworkPolicy.class, "km-sandbox-deny-egress");
        assertEquals(
                Map.of("katmesh.dev/sandbox", "true"),
                deny.getSpec().getPodSelector().getMatchLabels());
        assertEquals(List.of("Egress"), deny.getSpec().getPolicyTypes());
        assertTrue(
                deny.getSpec().getEgress() == null || deny.getSpec().getEgress().isEmpty(),
                "no egress rule: all denied");
        Role role = named(all, Role.class, "km-sandbox-launcher");
        role.getRules().forEach(r -> {
            assertFalse(r.getVerbs().contains("*") || r.getResources().contains("*"), "no wildcards: " + r);
            assertFalse(r.getResources().contains("secrets"), "no access to secrets");
        });
        assertEquals(
                "km-sandbox-launcher",
                named(all, Deployment.class, "km-rollout")
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getServiceAccountName());
        assertEquals(
                Boolean.FALSE,
                named(all, Deployment.class, "km-inference")
                        .getSpec()
                        .getTemplate()
                        .getSpec()
                        .getAutomountServiceAccountToken());
    }

    @Test
    void optionalPartsAppearWhenAsked() {
        List<HasMetadata> all = render(Map.of(
                "inference.autoscaling",
                true,
                "inference.maxReplicas",
                6,
                "metrics.serviceMonitor",
                true,
                "inference.apiKeys",
                "k1,k2"));
        HorizontalPodAutoscaler hpa = named(all, HorizontalPodAutoscaler.class, "km-inference");
        assertEquals(6, hpa.getSpec().getMaxReplicas());
        assertEquals(
                null, named(all, Deployment.class, "km-inference").getSpec().getReplicas(), "the HPA owns replicas");
        assertTrue(all.stream().anyMatch(r -> r.getKind().equals("ServiceMonitor")));
        assertTrue(all.stream()
                .anyMatch(r -> r.getKind().equals("Secret")
                        && r.getMetadata().getName().equals("km-api-keys")));
    }

    @Test
    void theLearnerAndInferenceTakeExtraEnvironmentSuchAsTheirAllocator() {
        List<HasMetadata> all = render(Map.of(
                "inference.env.LD_PRELOAD", "/usr/lib64/libjemalloc.so.2",
                "learner.env.MALLOC_CONF", "dirty_decay_ms:-1"));
        var inference = firstContainersEnv(
                named(all, Deployment.class, "km-inference").getSpec().getTemplate());
        var learner = firstContainersEnv(
                named(all, StatefulSet.class, "km-learner").getSpec().getTemplate());
        assertTrue(
                inference.stream()
                        .anyMatch(e ->
                                e.getName().equals("LD_PRELOAD") && e.getValue().equals("/usr/lib64/libjemalloc.so.2")),
                "inference.env reaches the inference container: " + inference);
        assertTrue(
                learner.stream()
                        .anyMatch(e -> e.getName().equals("MALLOC_CONF")
                                && e.getValue().equals("dirty_decay_ms:-1")),
                "learner.env reaches the learner container: " + learner);
    }

    @Test
    void inferenceTakesFairSharesPerAgent() {
        List<HasMetadata> all = render(Map.of(
                "inference.quotas.concurrent", "4",
                "inference.quotas.tokensPerMinute", "120000",
                "inference.quotas.agents[0]", "ci-bot:2:20000",
                "inference.quotas.agents[1]", "alice:8:0"));
        var env = firstContainersEnv(
                named(all, Deployment.class, "km-inference").getSpec().getTemplate());
        Map<String, String> values = new TreeMap<>();
        env.stream().filter(e -> e.getValue() != null).forEach(e -> values.put(e.getName(), e.getValue()));
        assertEquals("4", values.get("KATMESH_INFERENCE_QUOTAS_CONCURRENT"), "the default concurrency: " + env);
        assertEquals("120000", values.get("KATMESH_INFERENCE_QUOTAS_TOKENS_PER_MINUTE"), "tokens a minute: " + env);
        assertEquals("ci-bot:2:20000,alice:8:0", values.get("KATMESH_INFERENCE_QUOTAS_AGENTS"), "per agent: " + env);
    }

    @Test
    void theRewardTakesItsSecretRulesPerSourceAndAFileOfTheOperatorsOwn() {
        List<HasMetadata> all = render(Map.of(
                "reward.secrets.deployed", "redact",
                "reward.secrets.rollout", "reject",
                "reward.secrets.disabledRules[0]", "high-entropy",
                "reward.secrets.rules[0]", "acme-token=\\bacme_[a-z0-9]{32}\\b"));
        PodSpec pod = named(all, Deployment.class, "km-reward")
                .getSpec()
                .getTemplate()
                .getSpec();
        Map<String, String> values = new TreeMap<>();
        pod.getContainers().get(0).getEnv().stream()
                .filter(e -> e.getValue() != null)
                .forEach(e -> values.put(e.getName(), e.getValue()));
        assertEquals("redact", values.get("KATMESH_REWARD_SECRETS_DEPLOYED"), values.toString());
        assertEquals("reject", values.get("KATMESH_REWARD_SECRETS_ROLLOUT"), values.toString());
        assertEquals("high-entropy", values.get("KATMESH_REWARD_SECRETS_DISABLED_RULES"), values.toString());
        assertEquals("5m", values.get("KATMESH_REWARD_CAPTURE_ORPHAN_TIMEOUT"), "captured trees of a dead inference");
        assertEquals("0s", values.get("KATMESH_REWARD_FEEDBACK_WINDOW"), "late feedback is off unless set");
        assertEquals("shared=*", values.get("KATMESH_REWARD_FEEDBACK_SENDERS"), "katmesh.feedback rates everyone");
        String file = values.get("KATMESH_REWARD_SECRETS_RULES_FILE");
        assertEquals("/etc/katmesh/secret-rules/rules.txt", file, values.toString());
        ConfigMap rules = named(all, ConfigMap.class, "km-secret-rules");
        assertEquals(
                "acme-token=\\bacme_[a-z0-9]{32}\\b",
                rules.getData().get("rules.txt").strip());
        assertTrue(
                pod.getVolumes().stream()
                        .anyMatch(v -> v.getConfigMap() != null
                                && v.getConfigMap().getName().equals("km-secret-rules")),
                "the rules are mounted: " + pod.getVolumes());
        assertTrue(
                render(Map.of()).stream()
                        .noneMatch(r -> r instanceof ConfigMap
                                && r.getMetadata().getName().equals("km-secret-rules")),
                "no rules of one's own, no ConfigMap");
    }

    static List<EnvVar> firstContainersEnv(PodTemplateSpec pod) {
        return pod.getSpec().getContainers().get(0).getEnv();
    }

    @Test
    void servicesFindEachOtherAndShareKeys() {
        List<HasMetadata> all = render(Map.of(
                "inference.apiKeys",
                "agent1=k1",
                "rollout.apiKey",
                "r1",
                "learner.modelDir",
                "/models/qwen",
                "learner.modelVolumeClaim",
                "models"));
        var inference = named(all, Deployment.class, "km-inference")
                .getSpec()
                .getTemplate()
                .getSpec();
        var env = inference.getContainers().get(0).getEnv();
        assertEquals(
                "km-learner",
                env.stream()
                        .filter(e -> e.getName().equals("QUARKUS_GRPC_CLIENTS_WEIGHTS_HOST"))
                        .findFirst()
                        .orElseThrow()
                        .getValue());
        assertEquals(
                "/models/qwen",
                env.stream()
                        .filter(e -> e.getName().equals("KATMESH_INFERENCE_MODEL_DIR"))
                        .findFirst()
                        .orElseThrow()
                        .getValue());
        assertEquals(
                "api-keys",
                env.stream()
                        .filter(e -> e.getName().equals("KATMESH_INFERENCE_API_KEYS"))
                        .findFirst()
                        .orElseThrow()
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getKey());
        assertTrue(
                inference.getVolumes().stream()
                        .anyMatch(v -> v.getPersistentVolumeClaim() != null
                                && v.getPersistentVolumeClaim().getClaimName().equals("models")),
                "inference mounts the models");
        var rollout = named(all, Deployment.class, "km-rollout")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0)
                .getEnv();
        assertEquals(
                "km-inference",
                rollout.stream()
                        .filter(e -> e.getName().equals("QUARKUS_GRPC_CLIENTS_INFERENCE_HOST"))
                        .findFirst()
                        .orElseThrow()
                        .getValue());
        assertEquals(
                "rollout-api-key",
                rollout.stream()
                        .filter(e -> e.getName().equals("KATMESH_ROLLOUT_API_KEY"))
                        .findFirst()
                        .orElseThrow()
                        .getValueFrom()
                        .getSecretKeyRef()
                        .getKey());
        Secret secret = named(all, Secret.class, "km-api-keys");
        assertEquals(
                "agent1=k1,rollout=r1",
                secret.getStringData().get("api-keys"),
                "inference accepts the agents' keys and the rollout's");
        assertEquals("r1", secret.getStringData().get("rollout-api-key"));
    }

    @Test
    void theKubernetesSandboxIsConfiguredWhereItRuns() {
        List<HasMetadata> all = render(Map.of("sandbox.mode", "kubernetes"));
        for (String service : List.of("km-rollout", "km-reward")) {
            var env = named(all, Deployment.class, service)
                    .getSpec()
                    .getTemplate()
                    .getSpec()
                    .getContainers()
                    .get(0)
                    .getEnv();
            assertEquals(
                    "km-sandbox",
                    env.stream()
                            .filter(e -> e.getName().equals("KATMESH_SANDBOX_SERVICE_ACCOUNT"))
                            .findFirst()
                            .orElseThrow()
                            .getValue(),
                    service);
            assertEquals(
                    "python:3.12-slim",
                    env.stream()
                            .filter(e -> e.getName().equals("KATMESH_SANDBOX_IMAGE"))
                            .findFirst()
                            .orElseThrow()
                            .getValue(),
                    service);
        }
    }

    @Test
    void kafkaCredentialsComeFromAnExistingSecret() {
        List<HasMetadata> all =
                render(Map.of("kafka.existingSecret", "kafka-user", "kafka.securityProtocol", "SASL_SSL"));
        for (Deployment d : ofKind(all, Deployment.class)) {
            var env = d.getSpec().getTemplate().getSpec().getContainers().get(0).getEnv();
            var password = env.stream()
                    .filter(e -> e.getName().equals("KATMESH_KAFKA_PASSWORD"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(
                    "kafka-user",
                    password.getValueFrom().getSecretKeyRef().getName(),
                    d.getMetadata().getName());
            String jaas = env.stream()
                    .filter(e -> e.getName().equals("KAFKA_SASL_JAAS_CONFIG"))
                    .findFirst()
                    .orElseThrow()
                    .getValue();
            assertTrue(jaas.contains("ScramLoginModule") && jaas.contains("$(KATMESH_KAFKA_PASSWORD)"), jaas);
            assertEquals(
                    "SASL_SSL",
                    env.stream()
                            .filter(e -> e.getName().equals("KAFKA_SECURITY_PROTOCOL"))
                            .findFirst()
                            .orElseThrow()
                            .getValue());
        }
        assertTrue(
                all.stream()
                        .noneMatch(r -> r.getKind().equals("Secret")
                                && r.getMetadata().getName().contains("kafka")),
                "the chart never holds Kafka passwords itself");
    }

    @Test
    void eachServiceIsItsOwnKafkaUserWithTheAclsOfKafkaTopicsUsers() throws IOException {
        List<HasMetadata> all = render(Map.of(
                "kafka.createUsers", "true", "kafka.securityProtocol", "SASL_SSL", "kafka.clusterName", "prod-kafka"));
        assertRenderedAsFiles(all, "KafkaUser", TOPICS.resolve("users"), "prod-kafka");
        Map<String, PodSpec> pods = podsByComponent(all);
        assertEquals(Set.of("inference", "rollout", "reward", "learner"), pods.keySet());
        pods.forEach((component, pod) -> {
            var jaas = pod.getContainers().get(0).getEnv().stream()
                    .filter(e -> e.getName().equals("KAFKA_SASL_JAAS_CONFIG"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(
                    "katmesh-" + component,
                    jaas.getValueFrom().getSecretKeyRef().getName(),
                    "each service authenticates as its own user");
            assertTrue(
                    Files.isRegularFile(TOPICS.resolve("users/katmesh-" + component + ".yaml")),
                    component + " has a KafkaUser");
        });
        assertThrows(
                Exception.class, () -> render(Map.of("kafka.createUsers", "true")), "SCRAM users need a SASL protocol");
    }

    @Test
    void onlyInferenceHoldsTheWeightsCredential() {
        List<HasMetadata> all = render(Map.of("learner.weightsToken", "s3cret-token"));
        String secret = "km-weights-token";
        assertTrue(
                all.stream()
                        .anyMatch(r -> r.getKind().equals("Secret")
                                && r.getMetadata().getName().equals(secret)),
                "the token's secret");
        podsByComponent(all).forEach((component, pod) -> {
            List<String> holders = pod.getContainers().get(0).getEnv().stream()
                    .filter(e -> e.getValueFrom() != null
                            && e.getValueFrom().getSecretKeyRef() != null
                            && e.getValueFrom().getSecretKeyRef().getName().equals(secret))
                    .map(e -> e.getName())
                    .toList();
            List<String> expected = switch (component) {
                case "inference" -> List.of("KATMESH_INFERENCE_WEIGHTS_TOKEN");
                case "learner" -> List.of("KATMESH_LEARNER_WEIGHTS_TOKENS");
                default -> List.of();
            };
            assertEquals(expected, holders, component);
        });
    }

    @Test
    void tlsCoversEveryServiceTheirClientsOfEachOtherAndKafka() {
        List<HasMetadata> all = render(Map.of(
                "tls.enabled", "true",
                "tls.certManager.enabled", "true",
                "tls.certManager.issuerRef.name", "katmesh-ca",
                "kafka.securityProtocol", "SASL_SSL",
                "kafka.tls.caSecret", "prod-kafka-cluster-ca-cert"));
        GenericKubernetesResource cert = ofKind(all, GenericKubernetesResource.class).stream()
                .filter(r -> r.getKind().equals("Certificate"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("a cert-manager Certificate"));
        Map<String, Object> spec = cert.get("spec");
        assertEquals("km-tls", spec.get("secretName"));
        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) spec.get("dnsNames");
        for (String service : List.of("inference", "learner", "rollout", "reward")) {
            assertTrue(names.contains("km-" + service), names.toString());
            assertTrue(names.contains("km-" + service + ".agents.svc"), names.toString());
        }
        assertEquals("katmesh-ca", ((Map<?, ?>) spec.get("issuerRef")).get("name"));
        Map<String, String> grpcClient = Map.of("inference", "WEIGHTS", "rollout", "INFERENCE");
        Map<String, PodTemplateSpec> templates = new TreeMap<>();
        ofKind(all, Deployment.class)
                .forEach(d ->
                        templates.put(d.getMetadata().getName(), d.getSpec().getTemplate()));
        ofKind(all, StatefulSet.class)
                .forEach(d ->
                        templates.put(d.getMetadata().getName(), d.getSpec().getTemplate()));
        assertEquals(4, templates.size(), templates.keySet().toString());
        templates.forEach((name, template) -> {
            String component = name.substring("km-".length());
            Container c = template.getSpec().getContainers().get(0);
            Map<String, String> env = new TreeMap<>();
            c.getEnv().stream().filter(e -> e.getValue() != null).forEach(e -> env.put(e.getName(), e.getValue()));
            assertEquals("8080", env.get("QUARKUS_HTTP_SSL_PORT"), name);
            assertEquals("disabled", env.get("QUARKUS_HTTP_INSECURE_REQUESTS"), name + ": HTTPS only");
            assertEquals("/etc/katmesh/tls/tls.crt", env.get("QUARKUS_TLS_KEY_STORE_PEM_MESH_CERT"), name);
            assertEquals("/etc/katmesh/tls/tls.key", env.get("QUARKUS_TLS_KEY_STORE_PEM_MESH_KEY"), name);
            assertEquals(
                    List.of("inference", "learner").contains(component) ? "false" : null,
                    env.get("QUARKUS_GRPC_SERVER_PLAIN_TEXT"),
                    name + ": TLS on the gRPC servers");
            String client = grpcClient.get(component);
            if (client != null) {
                assertEquals("false", env.get("QUARKUS_GRPC_CLIENTS_" + client + "_PLAIN_TEXT"), name);
                assertEquals(
                        "/etc/katmesh/tls/ca.crt",
                        env.get("QUARKUS_GRPC_CLIENTS_" + client + "_SSL_TRUST_STORE"),
                        name);
            }
            assertEquals("/etc/katmesh/kafka-ca/ca.crt", env.get("KAFKA_SSL_TRUSTSTORE_LOCATION"), name);
            assertEquals("PEM", env.get("KAFKA_SSL_TRUSTSTORE_TYPE"), name);
            assertEquals("HTTPS", c.getLivenessProbe().getHttpGet().getScheme(), name);
            assertEquals("HTTPS", c.getReadinessProbe().getHttpGet().getScheme(), name);
            assertEquals("https", template.getMetadata().getAnnotations().get("prometheus.io/scheme"), name);
            Map<String, String> secrets = new TreeMap<>();
            template.getSpec().getVolumes().stream()
                    .filter(v -> v.getSecret() != null)
                    .forEach(v -> secrets.put(v.getName(), v.getSecret().getSecretName()));
            assertEquals("km-tls", secrets.get("tls"), name);
            assertEquals("prod-kafka-cluster-ca-cert", secrets.get("kafka-ca"), name);
            assertTrue(
                    c.getVolumeMounts().stream()
                            .anyMatch(m -> m.getName().equals("tls")
                                    && m.getMountPath().equals("/etc/katmesh/tls")),
                    name);
        });

        // An existing secret (cert-manager's form, or the operator's own) instead of a Certificate.
        List<HasMetadata> given = render(Map.of("tls.enabled", "true", "tls.secretName", "katmesh-certs"));
        assertTrue(given.stream().noneMatch(r -> r.getKind().equals("Certificate")), "no Certificate");
        assertEquals(
                "katmesh-certs",
                named(given, Deployment.class, "km-inference").getSpec().getTemplate().getSpec().getVolumes().stream()
                        .filter(v -> v.getName().equals("tls"))
                        .findFirst()
                        .orElseThrow()
                        .getSecret()
                        .getSecretName());
        Container plain = named(render(Map.of()), Deployment.class, "km-inference")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0);
        assertEquals("HTTP", plain.getLivenessProbe().getHttpGet().getScheme(), "plain HTTP by default");
        assertTrue(plain.getEnv().stream().noneMatch(e -> e.getName().startsWith("QUARKUS_TLS")), "no TLS by default");
        for (Map<String, Object> bad : List.of(
                Map.<String, Object>of("tls.enabled", "true"),
                Map.<String, Object>of("tls.enabled", "true", "tls.certManager.enabled", "true"),
                Map.<String, Object>of("kafka.tls.caSecret", "ca"))) {
            assertThrows(Exception.class, () -> render(bad), "values " + bad + " must be refused");
        }
    }

    @Test
    void theSchemaRefusesBadValues() {
        for (Map<String, Object> bad : List.of(
                Map.<String, Object>of("learner.gpus", -1),
                Map.<String, Object>of("learner.gpus", "two"),
                Map.<String, Object>of("imagePullPolicy", "Sometimes"),
                Map.<String, Object>of("sandbox.mode", "docker"),
                Map.<String, Object>of("inferenceReplicas", 3),
                Map.<String, Object>of("inference.quotas.agents[0]", "ci-bot=2"),
                Map.<String, Object>of("reward.secrets.deployed", "drop"),
                Map.<String, Object>of("reward.secrets.rules[0]", "no regex here"),
                Map.<String, Object>of("tls.certManager.issuerRef.kind", "Vault"),
                Map.<String, Object>of("reward.captureOrphanTimeout", "five minutes"),
                Map.<String, Object>of("reward.feedbackWindow", "a day"),
                Map.<String, Object>of("tls.certManager.duration", "90d"))) {
            Exception e = assertThrows(Exception.class, () -> render(bad), "values " + bad + " must be refused");
            assertTrue(
                    String.valueOf(e.getMessage()).toLowerCase().contains("schema")
                            || String.valueOf(e.getMessage()).contains("values don't meet"),
                    "a schema error for " + bad + ": " + e.getMessage());
        }
    }
}
