package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.GenerateResponse;
import dev.katmesh.proto.v1.InferenceGrpc;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.WeightsChunk;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A curriculum that changes method: full SFT, then LoRA SFT whose versions are adapters on the last full version,
 * then full fine-tuning again with the adapters merged in. Inference serves each version exactly as the learner's
 * checkpoint computes it, an adapter version by fetching only its adapters (and, when it started after the base was
 * published, the base once); a learner killed in the LoRA stage resumes with its adapters on their base.
 */
class LoraIT {

    static final int[] PROMPT = InferenceIT.PROMPT;
    static final String KEY = "lora-it-key";

    @Test
    void loraVersionsAreAdaptersOnTheirBaseServedAsTheLearnerComputesThem() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/lora");
        Mesh.deleteRecursively(dir);
        Files.createDirectories(dir);
        StringBuilder sft = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            sft.append("{\"trajectory_id\":\"s-")
                    .append(i)
                    .append("\",\"group_id\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":\"Print ")
                    .append(i)
                    .append("\"},{\"role\":\"assistant\",\"content\":\"print(")
                    .append(i)
                    .append(")\"}]}\n");
        }
        Files.writeString(dir.resolve("sft.jsonl"), sft);
        Files.writeString(dir.resolve("curriculum.yaml"), """
                stages:
                  - {name: sft, objective: sft, sources: [{file: sft.jsonl}], steps: 4, batch: 2}
                  - name: lora
                    objective: sft
                    sources: [{file: sft.jsonl}]
                    steps: 8
                    batch: 2
                    learning_rate: 1e-2
                    method: lora
                    lora: {rank: 4, alpha: 8}
                  - name: adapt
                    objective: error_masked_sft
                    sources: [{topic: katmesh.trajectories.scored, source: deployed}]
                    steps: 1
                    method: full
                """);
        Path model = Mesh.tinyModel("lora-it", 11);
        String learner = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.curriculum=" + dir.resolve("curriculum.yaml"),
                "-Dkatmesh.learner.version-every=4",
                "-Dkatmesh.learner.group-size=1");
        try (Mesh mesh = Mesh.up(
                "lora",
                Map.of(
                        "KATMESH_LEARNER_OPTS",
                        learner,
                        "KATMESH_INFERENCE_OPTS",
                        "-Dkatmesh.inference.model-dir=" + model,
                        "KATMESH_API_KEY",
                        KEY))) {
            Map<Long, PolicyVersion> v = LearnerIT.awaitVersions(mesh, 4);
            assertEquals(
                    List.of("base", "sft", "lora", "lora"),
                    v.values().stream().map(PolicyVersion::getStage).toList());
            for (long adapter : new long[] {2, 3}) {
                assertTrue(v.get(adapter).getAdapter(), "v" + adapter + " is an adapter version");
                assertEquals(1, v.get(adapter).getBaseVersion(), "on the last full version");
                assertEquals(v.get(1L).getSha256(), v.get(adapter).getBaseSha256(), "naming its base's checksum");
            }
            assertFalse(v.get(1L).getAdapter(), "v1 is a full version");
            Path checkpoints = mesh.dataDir.resolve("learner/checkpoints");
            Path v3 = checkpoints.resolve("v000003");
            assertFalse(Files.exists(v3.resolve("model.safetensors")), "an adapter version keeps no model");
            long adapterBytes = Files.size(v3.resolve("adapter_model.safetensors"));
            long modelBytes = Files.size(checkpoints.resolve("v000001/model.safetensors"));
            JsonNode peft =
                    HotSwapIT.JSON.readTree(v3.resolve("adapter_config.json").toFile());
            assertEquals("LORA", peft.path("peft_type").asText());
            assertEquals(4, peft.path("r").asInt());

            // The Weights stream of an adapter version carries the adapters alone, with their settings.
            JsonNode status = mesh.status().path("services");
            ManagedChannel learnerChannel = ManagedChannelBuilder.forTarget(
                            status.path("learner").path("grpc").asText())
                    .usePlaintext()
                    .build();
            ManagedChannel channel = ManagedChannelBuilder.forTarget(
                            status.path("inference").path("grpc").asText())
                    .usePlaintext()
                    .build();
            try {
                List<WeightsChunk> stream = LearnerIT.fetch(mesh.weights(learnerChannel), 3, 0);
                assertTrue(stream.get(0).getHeader().getAdapterConfigJson().contains("\"r\" : 4"));
                long sent = stream.stream()
                        .filter(WeightsChunk::hasTensor)
                        .mapToLong(c -> c.getTensor().getData().size())
                        .sum();
                assertEquals(v.get(3L).getSha256(), LearnerIT.checksum(stream), "the stream is the adapters' bytes");
                System.out.printf(
                        "LoRA r=4 version: %d bytes sent against %d for the full model (%.1f%%)%n",
                        sent, modelBytes, 100.0 * sent / modelBytes);
                assertTrue(sent < adapterBytes && sent < modelBytes / 3, sent + " bytes against " + modelBytes);

                String http = mesh.http("inference");
                Mesh.awaitMetric(http, "katmesh_inference_policy_version", null, 3, Duration.ofMinutes(2), "v3");
                assertServes(channel, checkpoints, 3, "inference applies v3's adapters on v1's weights");

                // An instance started now has v0's weights: it fetches v1 once, then v3's adapters.
                mesh.katmesh(Duration.ofMinutes(3), "restart", "inference");
                http = mesh.http("inference");
                Mesh.awaitMetric(http, "katmesh_inference_policy_version", null, 3, Duration.ofMinutes(2), "restarted");
                assertServes(channel, checkpoints, 3, "a restarted inference fetches the base, then the adapters");
                assertEquals(0.0, Mesh.metric(http, "katmesh_inference_swap_failures_total", null), "no swap failed");

                // A learner killed while the next stage waits resumes from v3: v1's weights with v3's adapters, merged
                // for the full stage that follows.
                mesh.sigkill("learner");
                mesh.katmesh(Duration.ofMinutes(3), "restart", "learner");
                CurriculumIT.publishDeployedSessions(mesh, 4);
                v = LearnerIT.awaitVersions(mesh, 5);
                assertEquals("adapt", v.get(4L).getStage());
                assertFalse(v.get(4L).getAdapter(), "after a full stage the version is a model again");
                assertEquals(v.get(3L).getStep() + 1, v.get(4L).getStep(), "resumed after v3's step");
                Mesh.awaitMetric(http, "katmesh_inference_policy_version", null, 4, Duration.ofMinutes(2), "v4");
                assertServes(channel, checkpoints, 4, "inference serves the merged and trained v4");
            } finally {
                channel.shutdownNow();
                learnerChannel.shutdownNow();
            }
        }
    }

    /**
     * Inference's greedy tokens and their log-probs equal those of the learner's checkpoint of {@code version}, loaded
     * here; for an adapter version, the log-probs differ from its base's alone (so the adapters were applied).
     */
    static void assertServes(ManagedChannel channel, Path checkpoints, long version, String what) throws Exception {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + KEY);
        GenerateResponse served = InferenceGrpc.newBlockingStub(channel)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                .generate(InferenceIT.greedy(PROMPT, 24));
        assertEquals(version, served.getPolicyVersion(), what);
        Path folder = checkpoints.resolve(String.format("v%06d", version));
        ModelConfig config = ModelConfig.read(folder.resolve("config.json"));
        boolean adapter = Files.exists(folder.resolve(LoraAdapters.WEIGHTS_FILE));
        Path weights = adapter
                ? Path.of(HotSwapIT.JSON
                        .readTree(folder.resolve("adapter_config.json").toFile())
                        .path("base_model_name_or_path")
                        .asText())
                : folder;
        try (DecoderModel m = DecoderModel.load(weights, config, Device.cpu())) {
            Generation base = new Generator(m).generate(PROMPT, SamplingParams.greedy(24));
            if (adapter) {
                m.attachAdapters(LoraAdapters.load(folder, config, m.manager()));
            }
            Generation expected = new Generator(m).generate(PROMPT, SamplingParams.greedy(24));
            assertEquals(
                    Arrays.toString(expected.tokens()), served.getTokenIdsList().toString(), what);
            float worst = 0;
            for (int i = 0; i < expected.logprobs().length; i++) {
                worst = Math.max(worst, Math.abs(expected.logprobs()[i] - served.getLogprobs(i)));
            }
            assertTrue(worst < 1e-4, what + ": log-probs within " + worst);
            if (adapter) {
                double change = Arrays.equals(base.tokens(), expected.tokens()) ? 0 : Double.POSITIVE_INFINITY;
                for (int i = 0; i < base.logprobs().length && change == 0; i++) {
                    change = Math.max(change, Math.abs(base.logprobs()[i] - expected.logprobs()[i]));
                }
                assertTrue(change > 1e-3, "the adapters change what the base computes: " + change);
            }
        }
    }
}
