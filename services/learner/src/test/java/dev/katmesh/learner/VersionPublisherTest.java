package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.AdamW;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A learner killed between a version's checkpoint and its announcement announces it when it resumes. */
class VersionPublisherTest {

    static final RolloutSupervision RULE = RolloutSupervision.newBuilder()
            .setMaxDiscrepancy(0.9)
            .setPatience(2)
            .setGraceTurns(2)
            .setEnforce(true)
            .build();

    @TempDir
    Path dir;

    @Test
    void aVersionWhoseAnnouncementDiedWithTheLearnerIsAnnouncedOnResumeWithItsMetrics() throws Exception {
        Path model = ChatSamplesTest.FIXTURE;
        CheckpointStore store = new CheckpointStore(dir.resolve("checkpoints"), 3);
        TrainingLedger ledger = new TrainingLedger(dir.resolve("ledger.jsonl"));
        var entry = new TrainingLedger.Entry(4, 80, "midterm", List.of("t1"), Map.of(), 1L);
        try (DecoderModel m =
                DecoderModel.load(model, ModelConfig.read(model.resolve("config.json")), PolicyModel.device("cpu"))) {
            AdamW optimizer = new AdamW(m.parameters(), AdamW.Settings.defaults(1e-4));
            MockProducer<String, byte[]> dying = producer(false);
            VersionPublisher before = new VersionPublisher(store, ledger, dying, new AtomicReference<>());
            Thread broker = new Thread(() -> {
                while (!dying.errorNext(new TimeoutException("the broker went away"))) {
                    Thread.onSpinWait();
                }
            });
            broker.start();
            ExecutionException died = assertThrows(
                    ExecutionException.class,
                    () -> before.publish(entry, 80, m, model, optimizer, Map.of(), Map.of("loss", 1.5), null, RULE),
                    "the announcement failed: the process would die here");
            broker.join();
            assertTrue(died.getCause().getMessage().contains("broker"), died.toString());
        }

        MockProducer<String, byte[]> restarted = producer(true);
        AtomicReference<CheckpointStore.State> servable = new AtomicReference<>();
        CheckpointStore.State latest = store.latest().orElseThrow();
        new VersionPublisher(store, ledger, restarted, servable).resume(latest);

        assertEquals(4, servable.get().version(), "the resumed version is servable");
        List<ProducerRecord<String, byte[]>> sent = restarted.history();
        assertEquals(1, sent.size(), "the resumed version is announced once: " + sent);
        assertEquals(Topics.VERSIONS, sent.get(0).topic());
        assertEquals("4", sent.get(0).key());
        PolicyVersion v = PolicyVersion.parseFrom(sent.get(0).value());
        assertEquals(latest.sha256(), v.getSha256());
        assertEquals(Map.of("loss", 1.5), v.getMetricsMap(), "the announcement keeps the metrics it was made with");
        assertEquals(RULE, v.getRolloutSupervision(), "and its stage's supervision rule, for the rollout service");
        assertArrayEquals(
                store.announcement(latest).toByteArray(), sent.get(0).value(), "the bytes the checkpoint kept");
    }

    @Test
    void aStageAnnouncesItsRuleOnTheVersionItStartsSamplingFromOnceAndTheCheckpointKeepsIt() throws Exception {
        Path model = ChatSamplesTest.FIXTURE;
        CheckpointStore store = new CheckpointStore(dir.resolve("checkpoints"), 3);
        TrainingLedger ledger = new TrainingLedger(dir.resolve("ledger.jsonl"));
        MockProducer<String, byte[]> producer = producer(true);
        VersionPublisher publisher = new VersionPublisher(store, ledger, producer, new AtomicReference<>());
        CheckpointStore.State sft;
        try (DecoderModel m =
                DecoderModel.load(model, ModelConfig.read(model.resolve("config.json")), PolicyModel.device("cpu"))) {
            var entry = new TrainingLedger.Entry(2, 40, "sft", List.of("t1"), Map.of(), 1L);
            sft = publisher.publish(entry, 40, m, model, null, Map.of(), Map.of("loss", 0.5), null, null);
        }
        assertEquals(1, producer.history().size());
        RolloutSupervision arm = RULE.toBuilder().setStage("rft-supervised").build();

        assertTrue(publisher.announceRule(sft, arm), "the SFT version had no rule: announced again with the arm's");
        assertEquals(2, producer.history().size());
        PolicyVersion again = PolicyVersion.parseFrom(producer.history().get(1).value());
        assertEquals("2", producer.history().get(1).key(), "the same version, under its key in the compacted topic");
        assertEquals(arm, again.getRolloutSupervision());
        assertEquals("sft", again.getStage(), "still the version SFT produced");
        assertEquals(Map.of("loss", 0.5), again.getMetricsMap(), "with its metrics");
        assertEquals(again, store.announcement(sft), "kept with the checkpoint: a resumed learner announces the rule");

        assertFalse(publisher.announceRule(sft, arm), "the same rule again: nothing sent");
        assertEquals(2, producer.history().size());
        assertTrue(publisher.announceRule(sft, null), "a stage without a rule clears it");
        assertFalse(PolicyVersion.parseFrom(producer.history().get(2).value()).hasRolloutSupervision());
    }

    private static MockProducer<String, byte[]> producer(boolean autoComplete) {
        return new MockProducer<>(autoComplete, null, new StringSerializer(), new ByteArraySerializer());
    }
}
