package dev.katmesh.learner;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.KafkaClientSettings;
import dev.katmesh.proto.wire.Topics;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.TrainingMethod;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.errors.WakeupException;
import org.jboss.logging.Logger;

/**
 * The learner's loop: load the model (or the checkpoint to resume from), then run the curriculum's stages in
 * order, each a {@link FileStage} or a {@link TopicStage} over one {@link TrainingRun}.
 *
 * <p>DESIGN (exactly-once accounting): offsets are never committed ahead of the checkpoint that includes their
 * records. The loop keeps, per partition, the offsets of records it holds but has not trained (waiting for their
 * group, or queued); the offset a checkpoint records is the smallest of those, or the next offset when it holds
 * none ({@link HeldOffsets}). After the checkpoint is renamed into place, the loop publishes the PolicyVersion
 * and only then commits those offsets ({@link VersionPublisher}). On start it seeks to the latest checkpoint's
 * offsets, so records trained after it (whose training died with the process) are trained again into the next
 * version, and none is trained twice into one published version.
 *
 * <p>Without a model (no katmesh.learner.model-dir) the loop only counts what it receives and drops it with
 * reason no_model, committing as it goes.
 */
@ApplicationScoped
public class TrainingLoop {

    private static final Logger LOG = Logger.getLogger(TrainingLoop.class);

    @Inject
    LearnerSettings settings;

    @Inject
    LearnerMetrics metrics;

    /** Every kafka.* setting of the application, as Quarkus collects them for all Kafka clients: the loop's own use them too. */
    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafkaConfig;

    private final AtomicReference<CheckpointStore.State> published = new AtomicReference<>();
    private volatile boolean running;
    private volatile Thread thread;
    private volatile String failure;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private volatile String currentStage = "none";
    private CheckpointStore store;
    private LearnerProgress progress;
    private TrainingLedger ledger;

    void onStart(@Observes StartupEvent event) {
        Path dir = Path.of(settings.checkpointDir());
        store = new CheckpointStore(dir, settings.keepCheckpoints());
        progress = new LearnerProgress(dir.resolve("progress.jsonl"));
        ledger = new TrainingLedger(dir.resolve("ledger.jsonl"));
        metrics.versionGauges(
                () -> published.get() == null ? -1 : published.get().version(),
                () -> published.get() == null ? -1 : published.get().createdAtMs());
        running = true;
        thread = new Thread(this::run, "katmesh-training-loop");
        thread.start();
    }

    void onStop(@Observes ShutdownEvent event) throws InterruptedException {
        running = false;
        KafkaConsumer<String, byte[]> c = consumer;
        if (c != null) {
            c.wakeup();
        }
        if (thread != null) {
            thread.join(TimeUnit.SECONDS.toMillis(20));
        }
    }

    /** The newest published version, if any (for the Weights service). */
    public Optional<CheckpointStore.State> published() {
        return Optional.ofNullable(published.get());
    }

    /** What the learner has done: live state and per-version history. */
    public LearnerProgress progress() {
        return progress;
    }

    public CheckpointStore store() {
        return store;
    }

    /** Which trajectory ids each published version trained and dropped. */
    public TrainingLedger ledger() {
        return ledger;
    }

    /** Null while healthy, else why the loop stopped. */
    public String failure() {
        return thread != null && !thread.isAlive() && running
                ? (failure == null ? "training loop exited" : failure)
                : failure;
    }

    /** The curriculum stage running now. */
    public String currentStage() {
        return currentStage;
    }

    public boolean trainingEnabled() {
        return settings.modelDir().isPresent();
    }

    private void run() {
        try (KafkaConsumer<String, byte[]> c = LearnerClients.consumer(kafkaConfig)) {
            consumer = c;
            if (settings.modelDir().isPresent()) {
                runTraining(Path.of(settings.modelDir().get()), c);
            } else {
                runCountOnly(c);
            }
        } catch (WakeupException e) {
            // shutting down
        } catch (Exception e) {
            failure = e.toString();
            LOG.error("the training loop stopped", e);
        }
    }

    private void runCountOnly(KafkaConsumer<String, byte[]> c) {
        c.subscribe(List.of(Topics.SCORED));
        while (running) {
            var records = c.poll(Duration.ofMillis(500));
            for (ConsumerRecord<String, byte[]> r : records) {
                DropReason reason = DropReason.MALFORMED;
                try {
                    ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value() == null ? new byte[0] : r.value());
                    metrics.received(Topics.sourceTag(s.getTrajectory().getSource()));
                    reason = DropReason.NO_MODEL;
                } catch (InvalidProtocolBufferException e) {
                    LOG.warnf(
                            "dropping an unreadable record at %s-%d@%d: %s",
                            r.topic(), r.partition(), r.offset(), e.getMessage());
                }
                metrics.dropped(reason, 1);
                progress.dropped(reason.tag(), 1);
            }
            if (!records.isEmpty()) {
                c.commitSync();
            }
        }
    }

    private void runTraining(Path modelDir, KafkaConsumer<String, byte[]> c) throws Exception {
        ModelConfig config = ModelConfig.read(modelDir.resolve("config.json"));
        Curriculum curriculum = settings.curriculum()
                .map(f -> Curriculum.load(Path.of(f), settings.learningRate()))
                .orElse(Curriculum.rftOnly(settings.learningRate()))
                .withDefaultMethod(TrainingMethod.of(
                        settings.method(), settings.loraRank(), settings.loraAboveParameters(), config));
        Optional<CheckpointStore.State> resume = store.latest();
        Path weightsDir = resume.map(s -> store.folder(s.weightsVersion())).orElse(modelDir);
        List<String> devices = settings.devices().filter(d -> !d.isEmpty()).orElse(List.of(settings.device()));
        List<DecoderModel> replicas = new ArrayList<>();
        DecoderModel reference = null;
        try (PolicyTokenizer tokenizer = PolicyTokenizer.load(modelDir);
                KafkaProducer<String, byte[]> producer = LearnerClients.producer(kafkaConfig)) {
            ModelReplicas.load(
                    replicas,
                    weightsDir,
                    config,
                    devices,
                    resume.filter(CheckpointStore.State::adapter).map(r -> store.folder(r.version())));
            // The KL penalty's frozen reference: the initial policy, never trained.
            reference = settings.klBeta() > 0
                    ? DecoderModel.load(modelDir, config, PolicyModel.device(devices.get(0)))
                    : null;
            ChatTemplate template = ChatTemplate.load(modelDir);
            VersionPublisher publisher = new VersionPublisher(store, ledger, producer, published);
            VersionEvaluation evaluation = new VersionEvaluation(
                    HeldOutEvaluator.of(settings.eval()), replicas.get(0), tokenizer, template, progress, metrics);
            try {
                progress.curriculum(
                        curriculum.stages().stream().map(Curriculum.Stage::name).toList());
                CheckpointStore.State from = resume.isPresent()
                        ? resumed(resume.get(), publisher)
                        : base(replicas.get(0), modelDir, publisher, evaluation);
                Path fromFolder = store.folder(from.version());
                TrainingRun run = new TrainingRun(
                        replicas,
                        reference,
                        modelDir,
                        Checkpoints.hasOptimizer(fromFolder) ? Checkpoints.loadOptimizer(fromFolder) : null,
                        settings,
                        metrics,
                        progress,
                        new Lineage(ledger.trainedIds()),
                        publisher,
                        evaluation,
                        new StageBranch(store, ledger, curriculum),
                        from);
                ChatSamples chat = new ChatSamples(template, tokenizer);
                FileStage files = new FileStage(run, chat, () -> running);
                TopicStage topic = new TopicStage(run, chat, c, settings, () -> running);
                ReplayStage replay =
                        new ReplayStage(run, chat, KafkaClientSettings.consumer(kafkaConfig), () -> running);
                // A checkpoint of a stage this curriculum lacks (the learner restarted with another curriculum, e.g.
                // `./katmesh replay`) starts the curriculum from its beginning, on the checkpoint's weights.
                boolean fresh = from.stage().equals("base")
                        || curriculum.stages().stream().noneMatch(x -> x.name().equals(from.stage()));
                int first = fresh ? 0 : curriculum.indexOf(from.stage());
                for (int i = first; i < curriculum.stages().size() && running; i++) {
                    Curriculum.Stage s = curriculum.stages().get(i);
                    currentStage = s.name();
                    run.begin(s, i == first && !fresh ? from.stageStep() : 0);
                    if (s.fromReplay()) {
                        replay.run();
                        run.positions(topic); // the topic stages' offsets are the consumer's again
                    } else if (s.fromTopic()) {
                        topic.run();
                    } else {
                        files.run();
                    }
                }
                if (running) {
                    evaluation.awaitAll(); // complete means evaluated: drivers read the last version's figures then
                    LOG.info("the curriculum is complete");
                    progress.complete();
                }
                while (running) {
                    Thread.sleep(500);
                }
            } finally {
                evaluation.close(); // before the tokenizer it uses is closed
            }
        } finally {
            replicas.forEach(DecoderModel::close);
            if (reference != null) {
                reference.close();
            }
        }
    }

    /** Resumes at the latest checkpoint: servable again, its ledger entry there (its optimizer state: the run's). */
    private CheckpointStore.State resumed(CheckpointStore.State from, VersionPublisher publisher) throws Exception {
        if (publisher.resume(from)) {
            LOG.infof(
                    "the ledger entry of policy version %d was appended on resume (a crash came between its checkpoint and the ledger)",
                    from.version());
        }
        LOG.infof(
                "resuming from policy version %d%s (step %d, stage %s step %d) at offsets %s",
                from.version(),
                from.adapter() ? " (adapters on version " + from.baseVersion() + ")" : "",
                from.step(),
                from.stage(),
                from.stageStep(),
                from.offsets());
        return from;
    }

    /** Version 0: the initial weights, published and evaluated before any step. */
    private CheckpointStore.State base(
            DecoderModel model, Path modelDir, VersionPublisher publisher, VersionEvaluation evaluation)
            throws Exception {
        TrainingLedger.Entry entry =
                new TrainingLedger.Entry(0, 0, "base", List.of(), Map.of(), System.currentTimeMillis());
        CheckpointStore.State base = publisher.publish(entry, 0, model, modelDir, null, Map.of(), Map.of(), null, null);
        LOG.infof("initial policy version 0 written to %s", store.folder(0));
        evaluation.record(base, true);
        return base;
    }
}
