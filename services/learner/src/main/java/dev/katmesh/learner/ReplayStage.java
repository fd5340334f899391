package dev.katmesh.learner;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.ScoredLogReader;
import dev.katmesh.proto.wire.ScoredRange;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.ScoredSamples;
import dev.katmesh.training.TrainingSample;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.jboss.logging.Logger;

/**
 * A supervised stage over a fixed range of the scored log (a curriculum source {@code replay: {...}}): the range's
 * selected records in offset order, {@code batch} a step, until the range ends (or the stage's steps do).
 *
 * <p>DESIGN: exactly once within the replay. The stage reads with no consumer group; each version's checkpoint holds
 * the replay's next offset per partition ({@code replay:<stage>:<partition>}), and a learner resumed mid-stage reads
 * on from there, so a record trained into a published version is not read again and one trained after it (lost with
 * the process) is. Records are trained whatever earlier stages did with them (a replay's point is to train them again:
 * into a new base model, another objective), so ids the ledger already holds are not skipped; the ledger entry of each
 * version the replay publishes names the stage as a replay with the offsets it covered, and the audit counts an id
 * twice only within one replay or outside replays.
 */
final class ReplayStage implements TrainingRun.Positions {

    private static final Logger LOG = Logger.getLogger(ReplayStage.class);
    static final String PREFIX = "replay:";

    private final TrainingRun run;
    private final ChatSamples chat;
    private final Properties client;
    private final BooleanSupplier running;
    private final Map<Integer, Long> next = new TreeMap<>();
    private final Set<TrainingSample> openEnds = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<Integer, Long> sinceVersion =
            new HashMap<>(); // each partition's first offset since the last version

    ReplayStage(TrainingRun run, ChatSamples chat, Properties client, BooleanSupplier running) {
        this.run = run;
        this.chat = chat;
        this.client = client;
        this.running = running;
    }

    void run() throws Exception {
        Curriculum.Stage stage = run.stage;
        ScoredRange range = stage.sources().get(0).replay();
        next.clear();
        if (run.published().stage().equals(stage.name())) { // resumed in the middle of this replay
            next.putAll(resumeAt(run.published().offsets(), stage.name()));
        }
        sinceVersion.clear();
        sinceVersion.putAll(next);
        run.positions(this);
        run.lineage.replay(stage.name(), this::coveredSinceVersion);
        boolean errorMasked = stage.kind() == Curriculum.Kind.ERROR_MASKED_SFT;
        int maxPositions = run.model.config().maxPositionEmbeddings();
        Set<String> inBatch = new HashSet<>();
        List<TrainingSample> batch = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        String[] tree = {null}; // the captured tree of the batch's last record
        ScoredLogReader.Summary summary = ScoredLogReader.read(client, range, next, (s, partition, offset) -> {
            // A full batch trains when a record of another tree comes (or the range ends), so that a session tree is
            // pruned and trained whole; its positions are those before this record.
            String treeId =
                    s == null ? null : s.getTrajectory().getMetadataMap().get("tree_id");
            if (batch.size() >= stage.batch() && (treeId == null || !treeId.equals(tree[0]))) {
                train(batch, ids);
                inBatch.clear();
                if (!running.getAsBoolean() || run.stageDone()) {
                    return false;
                }
            }
            sinceVersion.putIfAbsent(partition, offset);
            next.put(partition, offset + 1);
            if (s != null) {
                String id = s.getTrajectory().getTrajectoryId();
                TrainingSample sample = sample(s, errorMasked);
                if (sample.tokens().length > maxPositions) {
                    run.dropped(DropReason.TOO_LONG, id);
                } else if (sample.trainableCount() == 0) {
                    run.dropped(DropReason.NO_TOKENS, id);
                } else if (inBatch.add(id)) {
                    batch.add(sample);
                    ids.add(id);
                    tree[0] = treeId;
                    if (ScoredSamples.openEnd(s.getTrajectory())) {
                        openEnds.add(sample);
                    }
                }
            }
            return running.getAsBoolean() && !run.stageDone();
        });
        if (!batch.isEmpty() && running.getAsBoolean() && !run.stageDone()) {
            train(batch, ids);
        }
        LOG.infof(
                "replay %s: %d records in the range, %d selected, %d unreadable; offsets %s",
                stage.name(), summary.read(), summary.selected(), summary.unreadable(), next);
        if (running.getAsBoolean()) {
            run.endStage(summary.complete() ? "range" : run.endedBy(0));
        }
        run.lineage.replay(null, null);
    }

    private void train(List<TrainingSample> batch, List<String> ids) throws Exception {
        ids.forEach(run.lineage::trained);
        run.step(List.of(List.copyOf(batch)), List.of(new double[batch.size()]), batch.size(), openEnds::contains);
        batch.clear();
        openEnds.clear();
        ids.clear();
        run.maybePublish();
    }

    /** As a record of the topic trains: its own tokens and error mask, or rendered with its erroneous turns masked. */
    private TrainingSample sample(ScoredTrajectory s, boolean errorMasked) {
        return s.getTrajectory().getTokenIdsCount() >= 2
                ? ScoredSamples.of(s, errorMasked)
                : chat.of(s.getTrajectory(), TrajectorySamples.maskedTurns(s, errorMasked));
    }

    /** The next offset per partition a checkpoint holds for stage {@code stage}'s replay. */
    static Map<Integer, Long> resumeAt(Map<String, Long> checkpoint, String stage) {
        Map<Integer, Long> out = new TreeMap<>();
        String prefix = PREFIX + stage + ":";
        checkpoint.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(Integer.parseInt(k.substring(prefix.length())), v);
            }
        });
        return out;
    }

    /** The offsets {@code [from, to)} per partition read since the last version: what the next version covers. */
    private Map<String, long[]> coveredSinceVersion() {
        Map<String, long[]> out = new TreeMap<>();
        next.forEach((p, to) -> out.put(Integer.toString(p), new long[] {sinceVersion.getOrDefault(p, to), to}));
        sinceVersion.clear();
        sinceVersion.putAll(next);
        return out;
    }

    @Override
    public Map<String, Long> forCheckpoint() {
        Map<String, Long> out = new TreeMap<>(run.published().offsets());
        next.forEach((p, o) -> out.put(PREFIX + run.stage.name() + ":" + p, o));
        return out;
    }

    @Override
    public void committed(Map<String, Long> positions) {
        // Nothing to commit: a replay has no consumer group; its positions live in the checkpoint.
    }
}
