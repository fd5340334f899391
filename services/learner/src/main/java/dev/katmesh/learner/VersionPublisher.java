package dev.katmesh.learner;

import dev.katmesh.policy.DecoderModel;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RolloutSupervision;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.AdamW;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * Makes a policy version real, in this order: the checkpoint (weights, optimiser, offsets, ledger entry) renamed
 * into place, the ledger line, the version servable by the Weights service, then its announcement. A crash
 * between two of them is repaired on resume: the ledger from the checkpoint's copy, and the announcement sent again
 * from the checkpoint's copy (the same bytes under the same key, so a consumer that had it sees a repeat, never a
 * gap in the versions).
 */
final class VersionPublisher {

    private final CheckpointStore store;
    private final TrainingLedger ledger;
    private final Producer<String, byte[]> producer;
    private final AtomicReference<CheckpointStore.State> published;

    VersionPublisher(
            CheckpointStore store,
            TrainingLedger ledger,
            Producer<String, byte[]> producer,
            AtomicReference<CheckpointStore.State> published) {
        this.store = store;
        this.ledger = ledger;
        this.producer = producer;
        this.published = published;
    }

    /**
     * Writes, records, serves and announces version {@code entry.version()}; returns its state. {@code optimizer} is
     * null before any step (version 0); {@code baseVersion} is the full version an adapter version applies to.
     */
    CheckpointStore.State publish(
            TrainingLedger.Entry entry,
            long stageStep,
            DecoderModel model,
            Path tokenizerDir,
            AdamW optimizer,
            Map<String, Long> offsets,
            Map<String, Double> metrics,
            Long baseVersion,
            RolloutSupervision rule)
            throws Exception {
        CheckpointStore.State state = store.write(
                entry.version(),
                entry.step(),
                entry.stage(),
                stageStep,
                model,
                tokenizerDir,
                optimizer == null ? null : optimizer.state(),
                optimizer == null ? 0 : optimizer.step(),
                offsets,
                entry,
                metrics,
                baseVersion,
                rule);
        ledger.append(entry);
        // Servable before announced: an inference instance that hears of it asks Weights for it at once.
        published.set(state);
        announce(state);
        return state;
    }

    /**
     * Resumes at {@code state}: its ledger entry appended when a crash came before it was (returns whether it was),
     * servable, and announced again.
     */
    boolean resume(CheckpointStore.State state) throws Exception {
        boolean appended = ledger.reconcile(store.ledgerEntry(state.version()));
        published.set(state);
        announce(state);
        return appended;
    }

    /**
     * Announces {@code state} again with {@code rule} (null: none) when its announcement holds another: a stage that
     * starts sampling from a version an earlier stage published, so that the rollout service watches the stage's
     * rollouts from its first step. Returns whether it announced.
     */
    boolean announceRule(CheckpointStore.State state, RolloutSupervision rule) throws Exception {
        PolicyVersion kept = store.announcement(state);
        if (kept.hasRolloutSupervision() ? kept.getRolloutSupervision().equals(rule) : rule == null) {
            return false;
        }
        store.reannounce(state, rule);
        announce(state);
        return true;
    }

    private void announce(CheckpointStore.State state) throws Exception {
        producer.send(new ProducerRecord<>(
                        Topics.VERSIONS,
                        Long.toString(state.version()),
                        store.announcement(state).toByteArray()))
                .get(30, TimeUnit.SECONDS);
    }
}
