package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.Generator;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.FetchWeightsRequest;
import dev.katmesh.proto.v1.LatestRequest;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.proto.v1.WeightsChunk;
import dev.katmesh.proto.v1.WeightsGrpc;
import dev.katmesh.proto.weights.WeightsStreamReader;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Online RL through the embedded broker: the test samples from the policy's current version (weights
 * fetched over gRPC), scores the samples (reward = share of tokens from a target set), publishes them
 * to katmesh.trajectories.scored; the learner trains and publishes the next version; the test swaps it
 * in and samples again. The mean reward of the policy's own samples must rise.
 */
class LearnerRewardIT {

    static final Set<Integer> TARGET =
            Set.copyOf(IntStream.range(10, 60).boxed().toList()); // ~10% of 512

    @Test
    void theLearnerRaisesTheRewardOfItsOwnSamples() throws Exception {
        Path model = Mesh.tinyModel("reward-it", 3);
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.group-size=8",
                "-Dkatmesh.learner.groups-per-step=2",
                "-Dkatmesh.learner.version-every=1",
                "-Dkatmesh.learner.max-staleness=1",
                "-Dkatmesh.learner.learning-rate=1e-2");
        int rounds = 45;
        double[] mean = new double[rounds];
        try (Mesh mesh = Mesh.up("learner-reward", Map.of("KATMESH_LEARNER_OPTS", opts));
                DecoderModel policy =
                        DecoderModel.load(model, ModelConfig.read(model.resolve("config.json")), Device.cpu())) {
            ManagedChannel channel = ManagedChannelBuilder.forTarget(mesh.status()
                            .path("services")
                            .path("learner")
                            .path("grpc")
                            .asText())
                    .usePlaintext()
                    .build();
            try {
                WeightsGrpc.WeightsBlockingStub weights = mesh.weights(channel);
                Generator generator = new Generator(policy);
                String learner = mesh.http("learner");
                long version = -1;
                int[] prompt = {1, 89, 266, 86, 203};
                for (int round = 0; round < rounds; round++) {
                    // The learner has taken every sample sent so far (trained, or skipped as a group without
                    // reward variance): sample from its newest version.
                    long latest = awaitVersion(weights, 0);
                    if (latest != version) {
                        version = latest;
                        load(policy, weights, version);
                    }
                    double sum = 0;
                    for (int g = 0; g < 2; g++) {
                        List<int[]> prompts = new ArrayList<>();
                        List<SamplingParams> params = new ArrayList<>();
                        for (int i = 0; i < 8; i++) {
                            prompts.add(prompt);
                            params.add(new SamplingParams(8, 1f, 0, 1f, round * 100L + g * 10 + i, Set.of()));
                        }
                        List<Generation> gens = generator.generate(prompts, params);
                        for (int i = 0; i < gens.size(); i++) {
                            double r = reward(gens.get(i));
                            sum += r;
                            mesh.send(
                                    "katmesh.trajectories.scored",
                                    "r" + round + "g" + g,
                                    Map.of(),
                                    scored(
                                                    "r" + round + "g" + g + "-" + i,
                                                    "r" + round + "g" + g,
                                                    prompt,
                                                    gens.get(i),
                                                    version,
                                                    r)
                                            .toByteArray());
                        }
                    }
                    mean[round] = sum / 16;
                    double processed = 16.0 * (round + 1);
                    // Taken: trained, dropped (no reward variance, stale), or queued for the next step (dynamic
                    // sampling waits for two groups with a gradient).
                    Mesh.awaitAtLeast(
                            () -> {
                                try {
                                    return consumed(learner);
                                } catch (Exception e) {
                                    return Double.NaN;
                                }
                            },
                            processed,
                            Duration.ofSeconds(120),
                            "the learner takes round " + round);
                }
            } finally {
                channel.shutdownNow();
            }
        }
        double first = avg(mean, 0, 5);
        double last = avg(mean, rounds - 5, rounds);
        System.out.printf(
                "mean reward of the policy's own samples: first 5 rounds %.3f, last 5 rounds %.3f%n", first, last);
        assertTrue(
                last > first + 0.2,
                "the learner should raise the reward clearly: first " + first + ", last " + last + ", per round "
                        + Arrays.toString(mean));
    }

    /** Records the learner's RL stage has taken from the topic (its /katmesh/progress). */
    static double consumed(String learner) throws Exception {
        return Mesh.getJson(learner + "/katmesh/progress")
                .path("records_consumed")
                .asDouble();
    }

    static double reward(Generation g) {
        long hits = Arrays.stream(g.tokens()).filter(TARGET::contains).count();
        return g.tokens().length == 0 ? 0 : (double) hits / g.tokens().length;
    }

    static ScoredTrajectory scored(String id, String group, int[] prompt, Generation g, long version, double reward) {
        Trajectory.Builder t = Trajectory.newBuilder()
                .setTrajectoryId(id)
                .setGroupId(group)
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("prompt"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("completion"));
        for (int id2 : prompt) {
            t.addTokenIds(id2);
        }
        TokenSegment.Builder gen = TokenSegment.newBuilder()
                .setStart(prompt.length)
                .setEnd(prompt.length + g.tokens().length)
                .setGenerated(true)
                .setPolicyVersion(version)
                .setMessageIndex(1);
        for (int i = 0; i < g.tokens().length; i++) {
            t.addTokenIds(g.tokens()[i]);
            gen.addLogprobs(g.logprobs()[i]);
        }
        t.addSegments(TokenSegment.newBuilder()
                        .setStart(0)
                        .setEnd(prompt.length)
                        .setMessageIndex(0))
                .addSegments(gen);
        return ScoredTrajectory.newBuilder()
                .setTrajectory(t)
                .setReward(reward)
                .addComponents(RewardComponent.newBuilder()
                        .setName("target_tokens")
                        .setValue(reward)
                        .setWeight(1))
                .build();
    }

    static long awaitVersion(WeightsGrpc.WeightsBlockingStub weights, long atLeast) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            try {
                long v = weights.withDeadlineAfter(5, TimeUnit.SECONDS)
                        .latest(LatestRequest.getDefaultInstance())
                        .getVersion();
                if (v >= atLeast) {
                    return v;
                }
            } catch (StatusRuntimeException e) {
                // not ready yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("policy version " + atLeast + " did not appear within 120 s");
    }

    /** Fetches a version's tensors over gRPC, verified as inference verifies them, and swaps them into the local model. */
    static void load(DecoderModel policy, WeightsGrpc.WeightsBlockingStub weights, long version) {
        List<WeightsChunk> chunks = new ArrayList<>();
        weights.withDeadlineAfter(60, TimeUnit.SECONDS)
                .fetch(FetchWeightsRequest.newBuilder().setVersion(version).build())
                .forEachRemaining(chunks::add);
        PolicyVersion announced = chunks.get(0).getHeader().getVersion();
        Map<String, SafeTensors.Tensor> tensors = new HashMap<>();
        WeightsStreamReader.read(
                chunks.iterator(),
                announced,
                (name, shape, data) -> tensors.put(name, new SafeTensors.Tensor(shape, data, "F32")));
        policy.setWeights(tensors);
    }

    static double avg(double[] xs, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) {
            s += xs[i];
        }
        return s / (to - from);
    }
}
