package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
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
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

/**
 * The learner through the embedded broker: it trains groups of scored trajectories, publishes policy
 * versions, serves their weights over gRPC with a checksum, drops stale trajectories, and after a
 * SIGKILL resumes from its checkpoint and retrains exactly what came after it.
 */
class LearnerIT {

    static final String TRAINED = "katmesh_learner_trajectories_trained_total";
    static final String DROPPED = "katmesh_learner_trajectories_dropped_total";

    @Test
    void trainsPublishesServesWeightsAndResumesAfterSigkill() throws Exception {
        Path model = Mesh.HOME.resolve("services/policy/src/test/resources/hf/qwen3-tiny");
        String opts = String.join(
                " ",
                "-Dkatmesh.learner.model-dir=" + model,
                "-Dkatmesh.learner.group-size=4",
                "-Dkatmesh.learner.groups-per-step=1",
                "-Dkatmesh.learner.version-every=2",
                "-Dkatmesh.learner.max-staleness=1",
                "-Dkatmesh.learner.learning-rate=1e-3",
                "-Dkatmesh.learner.devices=cpu,cpu"); // two replicas: data-parallel wiring (CPU here)
        try (Mesh mesh = Mesh.up("learner", Map.of("KATMESH_LEARNER_OPTS", opts))) {
            String learner = mesh.http("learner");
            for (int g = 1; g <= 4; g++) {
                publishGroup(mesh, "g" + g, 0);
            }
            awaitMetric(learner, TRAINED, null, 16, "four groups trained");
            Map<Long, PolicyVersion> versions = awaitVersions(mesh, 3);
            assertEquals(
                    List.of(0L, 1L, 2L),
                    new ArrayList<>(versions.keySet()),
                    "version 0 (initial), then one every 2 steps");
            assertEquals("rft", versions.get(2L).getStage());
            assertEquals(4, versions.get(2L).getStep());

            String grpc =
                    mesh.status().path("services").path("learner").path("grpc").asText();
            ManagedChannel channel =
                    ManagedChannelBuilder.forTarget(grpc).usePlaintext().build();
            try {
                WeightsGrpc.WeightsBlockingStub weights = mesh.weights(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
                assertEquals(
                        2, weights.latest(LatestRequest.getDefaultInstance()).getVersion());
                List<WeightsChunk> all = fetch(weights, 2, 0);
                assertEquals(
                        versions.get(2L).getSha256(), checksum(all), "the streamed bytes hash to the announced sha256");
                assertEquals(
                        versions.get(2L).getSha256(),
                        all.get(all.size() - 1).getTrailer().getSha256());
                int tensors = all.get(0).getHeader().getTensorCount();
                assertTrue(
                        tensors > 10 && all.get(0).getHeader().getConfigJson().contains("Qwen3ForCausalLM"));
                List<WeightsChunk> resumed = fetch(weights, 2, 5);
                assertEquals(5, resumed.get(1).getTensor().getIndex(), "a fetch resumes from a chunk index");
                assertEquals(all.size() - 5, resumed.size(), "header, the chunks from index 5, trailer");
                assertEquals(
                        versions.get(2L).getSha256(),
                        resumed.get(resumed.size() - 1).getTrailer().getSha256());
                assertTrue(
                        !versions.get(1L).getSha256().equals(versions.get(2L).getSha256()),
                        "training changed the weights");
                // Bad requests to the Weights service get a status naming the problem; it keeps serving.
                Map<String, Status.Code> bad = new LinkedHashMap<>();
                bad.put("a version never made", code(() -> fetch(weights, 999, 0)));
                bad.put(
                        "chunks of 10 bytes",
                        code(() -> weights.fetch(FetchWeightsRequest.newBuilder()
                                        .setVersion(2)
                                        .setMaxChunkBytes(10)
                                        .build())
                                .forEachRemaining(c -> {})));
                bad.put("a start chunk past the end", code(() -> {
                    List<WeightsChunk> tail = fetch(weights, 2, 1_000_000);
                    assertEquals(2, tail.size(), "past the end: the header and the trailer only");
                }));
                assertEquals(Status.Code.NOT_FOUND, bad.get("a version never made"), bad.toString());
                assertEquals(Status.Code.INVALID_ARGUMENT, bad.get("chunks of 10 bytes"), bad.toString());
                assertEquals(Status.Code.OK, bad.get("a start chunk past the end"), bad.toString());
                assertEquals(
                        2, weights.latest(LatestRequest.getDefaultInstance()).getVersion(), "still serving");
            } finally {
                channel.shutdownNow();
            }

            // Version 2 is current: trajectories sampled by version 0 are now 2 behind (> η = 1) and dropped.
            publishGroup(mesh, "stale", 0);
            awaitMetric(learner, DROPPED, "reason=\"stale\"", 4, "stale trajectories dropped");
            publishGroup(mesh, "fresh", 2);
            awaitMetric(learner, TRAINED, null, 20, "fresh group trained (step 5, not yet a version)");

            mesh.sigkill("learner");
            mesh.katmesh(Duration.ofMinutes(3), "restart", "learner");

            // The new process resumes from version 2's offsets: it sees the stale group again (dropped again)
            // and retrains the fresh group, whose step died with the old process.
            awaitMetric(learner, TRAINED, null, 4, "the group trained after the checkpoint is trained again");
            awaitMetric(learner, DROPPED, "reason=\"stale\"", 4, "the stale group is judged again");
            publishGroup(mesh, "after-restart", 2);
            awaitMetric(learner, TRAINED, null, 8, "training goes on after the restart");
            Map<Long, PolicyVersion> after = awaitVersions(mesh, 4);
            assertEquals(6, after.get(3L).getStep(), "version 3 = steps 5 and 6, each group trained once into it");
            Thread.sleep(1000);
            assertEquals(8.0, Mesh.metric(learner, TRAINED, null), "nothing else was trained");

            // The lineage agrees: the ledger names every group once, and the audit finds nothing lost or twice.
            JsonNode audit = mesh.audit();
            assertEquals(28, audit.path("scored").asInt(), audit.toString());
            assertEquals(24, audit.path("trained").asInt(), "g1..g4, fresh and after-restart: " + audit);
            assertEquals(4, audit.path("dropped_reasons").path("stale").asInt(), audit.toString());
            assertEquals(0, audit.path("lost").size(), audit.toString());
            assertEquals(
                    0,
                    audit.path("trained_twice").size(),
                    "the fresh group's first training died with the process: " + audit);
            assertEquals(4, audit.path("ledger_versions").asInt(), "versions 0 to 3: " + audit);
        }
    }

    static void publishGroup(Mesh mesh, String group, long policyVersion) throws Exception {
        publishGroup(mesh, group, policyVersion, new double[] {1, 0, 0, 1});
    }

    /** Four scored rollouts of one group, with these rewards. */
    static void publishGroup(Mesh mesh, String group, long policyVersion, double[] rewards) throws Exception {
        for (int i = 0; i < 4; i++) {
            mesh.send(
                    "katmesh.trajectories.scored",
                    group,
                    Map.of("content-type", "application/x-protobuf"),
                    scoredRollout(group, i, policyVersion, rewards[i]).toByteArray());
        }
    }

    /** Rollout {@code i} of a group as {@link #publishGroup} sends it: 5 prompt tokens, 6 generated (log-prob -6.2). */
    static ScoredTrajectory scoredRollout(String group, int i, long policyVersion, double reward) {
        Random r = new Random(group.hashCode());
        for (int skip = 0; skip < 6 * i; skip++) {
            r.nextInt(500); // each rollout continues the group's sequence of random tokens, as when sent in a loop
        }
        Trajectory.Builder t = Trajectory.newBuilder()
                .setTrajectoryId(group + "-" + i)
                .setGroupId(group)
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT)
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("write code"))
                .addMessages(ChatMessage.newBuilder().setRole("assistant").setContent("..."));
        int[] prompt = {1, 89, 266, 86, 203};
        for (int id : prompt) {
            t.addTokenIds(id);
        }
        TokenSegment.Builder gen = TokenSegment.newBuilder()
                .setStart(prompt.length)
                .setEnd(prompt.length + 6)
                .setGenerated(true)
                .setPolicyVersion(policyVersion)
                .setMessageIndex(1);
        for (int j = 0; j < 6; j++) {
            t.addTokenIds(3 + r.nextInt(500));
            gen.addLogprobs(-6.2f);
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
                        .setName("tests")
                        .setValue(reward)
                        .setWeight(1))
                .build();
    }

    static void awaitMetric(String base, String name, String filter, double expected, String what)
            throws InterruptedException {
        Mesh.awaitMetric(base, name, filter, expected, Duration.ofSeconds(120), what);
    }

    static Map<Long, PolicyVersion> awaitVersions(Mesh mesh, int count) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Map<Long, PolicyVersion> versions = new TreeMap<>();
        // count < 0: at least -count versions.
        int atLeast = Math.abs(count);
        while (versions.size() < atLeast && System.nanoTime() < deadline) {
            versions.clear();
            for (ConsumerRecord<String, byte[]> r :
                    mesh.readAll("katmesh.policy.versions", Integer.MAX_VALUE, Duration.ofSeconds(10))) {
                PolicyVersion v = PolicyVersion.parseFrom(r.value());
                assertEquals(Long.toString(v.getVersion()), r.key(), "policy versions are keyed by version");
                versions.put(v.getVersion(), v);
            }
        }
        if (count >= 0) {
            assertEquals(count, versions.size(), "policy versions on katmesh.policy.versions: " + versions.keySet());
        } else {
            assertTrue(
                    versions.size() >= atLeast, "at least " + atLeast + " policy versions, got " + versions.keySet());
        }
        return versions;
    }

    static Status.Code code(Runnable call) {
        try {
            call.run();
            return Status.Code.OK;
        } catch (StatusRuntimeException e) {
            assertTrue(
                    e.getStatus().getDescription() != null
                            && !e.getStatus().getDescription().isBlank(),
                    "a status with a message: " + e);
            return e.getStatus().getCode();
        }
    }

    static List<WeightsChunk> fetch(WeightsGrpc.WeightsBlockingStub weights, long version, long startChunk) {
        List<WeightsChunk> out = new ArrayList<>();
        Iterator<WeightsChunk> it = weights.fetch(FetchWeightsRequest.newBuilder()
                .setVersion(version)
                .setMaxChunkBytes(16 * 1024)
                .setStartChunk(startChunk)
                .build());
        it.forEachRemaining(out::add);
        return out;
    }

    static String checksum(List<WeightsChunk> chunks) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (WeightsChunk c : chunks) {
            if (c.hasTensor()) {
                ByteString data = c.getTensor().getData();
                md.update(data.toByteArray());
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
