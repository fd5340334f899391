package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.AuditCommand;
import dev.katmesh.launcher.demo.TaskFiles;
import dev.katmesh.launcher.mesh.ConsumerGroups;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.launcher.mesh.PrometheusScrape;
import dev.katmesh.proto.wire.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Partitions moving between reward instances under full load: a producer publishes 1 KB trajectories to the raw
 * topic as fast as it can while the reward is scaled 1 → 2, back to 1 (gracefully), to 2 again, and the second
 * instance is SIGKILLed and scaled away. Each move is timed until the reward's consumer group is stable with every
 * partition assigned, with what it cost the first instance (which stays through every move): its reads of the
 * scored ids on assignment and its revocation drains (the reward's own timers). Then the audit: every record
 * published is scored once, none lost.
 */
public final class PartitionMovesBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GROUP = "katmesh-reward";

    private PartitionMovesBenchmark() {}

    /** One step of the run: the reward instances wanted, and whether the newest is SIGKILLed first. */
    private record Move(String name, int instances, boolean killNewest) {}

    private static final List<Move> MOVES = List.of(
            new Move("scale 1 -> 2", 2, false),
            new Move("scale 2 -> 1 (graceful)", 1, false),
            new Move("scale 1 -> 2 again", 2, false),
            new Move("SIGKILL reward-2, scale to 1", 1, true));

    public static ObjectNode run(MeshSupervisor mesh, int maxRecords, Duration pause, Duration timeout)
            throws Exception {
        mesh.up(Duration.ofMinutes(4), instances(1));
        int partitions;
        try (Admin admin = mesh.kafkaClients().admin()) {
            partitions = IngestionBenchmark.partitions(admin, Topics.RAW)
                    + IngestionBenchmark.partitions(admin, Topics.ROLLOUT);
            ConsumerGroups.awaitStable(admin, GROUP, 1, partitions, Duration.ofMinutes(2));
        }
        String reward =
                mesh.status().path("services").path("reward").path("http").asText();
        String learner =
                mesh.status().path("services").path("learner").path("http").asText();
        double receivedBefore = PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null);
        AtomicInteger sent = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Exception> failed = new AtomicReference<>();
        String run = Long.toString(System.currentTimeMillis(), 36);
        long start = System.nanoTime();
        Thread publisher = new Thread(
                () -> {
                    try {
                        publish(mesh, run, maxRecords, sent, stop);
                    } catch (Exception e) {
                        failed.set(e);
                    }
                },
                "katmesh-bench-publisher");
        publisher.start();

        ObjectNode out = JSON.createObjectNode();
        out.put("partitions", partitions);
        ArrayNode rows = out.putArray("moves");
        try (Admin admin = mesh.kafkaClients().admin()) {
            for (Move m : MOVES) {
                Thread.sleep(pause.toMillis()); // full load between moves
                double[] before = costs(reward);
                int sentBefore = sent.get();
                long t0 = System.nanoTime();
                if (m.killNewest()) {
                    long pid = mesh.status()
                            .path("services")
                            .path("reward-2")
                            .path("pid")
                            .asLong();
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                }
                mesh.up(Duration.ofMinutes(4), instances(m.instances()));
                ConsumerGroups.awaitStable(admin, GROUP, m.instances(), partitions, Duration.ofMinutes(3));
                double settled = (System.nanoTime() - t0) / 1e9;
                // The coordinator calls the group stable before the first instance's assignment listener (its read of
                // the scored ids) has run: wait for that read to be counted (every move reassigns all: eager).
                double[] after = costs(reward);
                for (long until = System.nanoTime() + 60_000_000_000L;
                        after[0] <= before[0] && System.nanoTime() < until; ) {
                    Thread.sleep(200);
                    after = costs(reward);
                }
                ObjectNode row = rows.addObject();
                row.put("move", m.name());
                row.put("settled_s", round(settled));
                row.put("records_published_meanwhile", sent.get() - sentBefore);
                row.put("first_instance_scored_id_reads", (long) (after[0] - before[0]));
                row.put("first_instance_scored_ids_read", (long) (after[1] - before[1]));
                row.put("first_instance_read_s", round(after[2] - before[2]));
                row.put("first_instance_revocations", (long) (after[3] - before[3]));
                row.put("first_instance_revocation_drain_s", round(after[4] - before[4]));
                row.put("handed_over", (long) (after[5] - before[5]));
            }
        } finally {
            stop.set(true);
            publisher.join();
        }
        if (failed.get() != null) {
            throw new IllegalStateException("publishing failed after " + sent.get() + " records", failed.get());
        }
        double publishSeconds = (System.nanoTime() - start) / 1e9;
        out.put("published", sent.get());
        out.put("publish_records_per_s", round(sent.get() / publishSeconds));
        // the learner (count-only) receives each scored record once: wait until every published one is there
        long deadline = System.nanoTime() + timeout.toNanos();
        double received = 0;
        while (System.nanoTime() < deadline && received < sent.get()) {
            Thread.sleep(500);
            received =
                    PrometheusScrape.sum(learner, "katmesh_learner_trajectories_received_total", null) - receivedBefore;
        }
        out.put("received_by_learner", (long) received);
        out.put("drained_s", round((System.nanoTime() - start) / 1e9 - publishSeconds));
        out.set("audit", AuditCommand.audit(mesh));
        return out;
    }

    /** Publishes 1 KB trajectories as fast as the producer takes them, until told to stop or at {@code max}. */
    private static void publish(MeshSupervisor mesh, String run, int max, AtomicInteger sent, AtomicBoolean stop)
            throws Exception {
        try (KafkaProducer<String, byte[]> producer = TaskFiles.producer(mesh.kafkaClients())) {
            for (int i = 0; i < max && !stop.get(); i++) {
                ProducerRecord<String, byte[]> r = new ProducerRecord<>(
                        Topics.RAW,
                        "moves-" + run + "-g" + (i % 64),
                        IngestionRecords.trajectory("moves-" + run, i).getBytes(StandardCharsets.UTF_8));
                r.headers().add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));
                producer.send(r);
                sent.incrementAndGet();
            }
            producer.flush();
        }
    }

    /** The first instance's move costs so far: reads, ids read, read seconds, revocations, drain seconds, handed over. */
    private static double[] costs(String reward) throws Exception {
        return new double[] {
            PrometheusScrape.sum(reward, "katmesh_reward_assignment_read_seconds_count", null),
            PrometheusScrape.sum(reward, "katmesh_reward_assignment_read_ids_total", null),
            PrometheusScrape.sum(reward, "katmesh_reward_assignment_read_seconds_sum", null),
            PrometheusScrape.sum(reward, "katmesh_reward_revocation_drain_seconds_count", null),
            PrometheusScrape.sum(reward, "katmesh_reward_revocation_drain_seconds_sum", null),
            PrometheusScrape.sum(reward, "katmesh_reward_handed_over_total", null)
        };
    }

    private static MeshSupervisor.Start instances(int reward) {
        return new MeshSupervisor.Start(null, Map.of(), Map.of(), false, Map.of("reward", reward));
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
