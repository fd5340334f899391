package dev.katmesh.learner;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.PolicyTokenizer;

import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.training.AdamW;
import dev.katmesh.training.AdvantageEstimator;
import dev.katmesh.training.Curriculum;
import dev.katmesh.training.DataMix;
import dev.katmesh.training.LossAggregation;
import dev.katmesh.training.GroupAssembler;
import dev.katmesh.training.StalenessGate;
import dev.katmesh.training.StepQueue;
import dev.katmesh.training.Trainer;
import dev.katmesh.training.TrainingSample;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import io.smallrye.common.annotation.Identifier;
import org.jboss.logging.Logger;

/**
 * The learner's loop: consume katmesh.trajectories.scored, gate, group, train, checkpoint, announce.
 *
 * <p>DESIGN (exactly-once accounting): offsets are never committed ahead of the checkpoint that
 * includes their records. The loop keeps, per partition, the offsets of records it holds but has not
 * trained (waiting for their group, or queued); the offset a checkpoint records is the smallest of
 * those, or the next offset when it holds none. After the checkpoint is renamed into place, the loop
 * publishes the PolicyVersion and only then commits those offsets. On start it seeks to the latest
 * checkpoint's offsets, so records trained after it (whose training died with the process) are trained
 * again into the next version, and none is trained twice into one published version.
 *
 * <p>Without a model (no katmesh.learner.model-dir) the loop only counts what it receives and drops it
 * with reason no_model, committing as it goes.
 */
@ApplicationScoped
public class TrainingLoop {

    static final String TOPIC = "katmesh.trajectories.scored";
    static final String VERSIONS_TOPIC = "katmesh.policy.versions";
    private static final Logger LOG = Logger.getLogger(TrainingLoop.class);

    /** A trajectory held by the loop until it is trained or dropped. */
    record Member(String trajectoryId, TopicPartition partition, long offset, TrainingSample sample, double reward, long publishedAtMs,
                  long oldestVersion) {}

    @Inject
    LearnerSettings settings;

    @Inject
    MeterRegistry registry;

    /**
     * Every kafka.* setting of the application (bootstrap servers, security protocol, SASL, TLS, static
     * membership), as Quarkus collects them for all Kafka clients: the loop's own clients use them too.
     */
    @Inject
    @Identifier("default-kafka-broker")
    Map<String, Object> kafkaConfig;

    private final AtomicReference<CheckpointStore.State> published = new AtomicReference<>();
    private volatile boolean running;
    private volatile Thread thread;
    private volatile String failure;
    private volatile KafkaConsumer<String, byte[]> consumer;
    private volatile double lastLoss = Double.NaN;
    private volatile double lastRewardMean = Double.NaN;
    private volatile double lastAdvantageAbs = Double.NaN;
    private volatile double lastLearningRate = Double.NaN;
    private volatile double lastClippedFraction = Double.NaN;
    private volatile long steps;
    private volatile double heldoutPassRate = Double.NaN;
    private volatile String currentStage = "none";
    private CheckpointStore store;
    private LearnerProgress progress;
    private TrainingLedger ledger;
    private HeldOutEvaluator evaluator;
    private Counter tokensTrained;

    void onStart(@Observes StartupEvent event) {
        store = new CheckpointStore(Path.of(settings.checkpointDir()), settings.keepCheckpoints());
        progress = new LearnerProgress(Path.of(settings.checkpointDir()).resolve("progress.jsonl"));
        ledger = new TrainingLedger(Path.of(settings.checkpointDir()).resolve("ledger.jsonl"));
        Gauge.builder("katmesh.learner.loss", () -> lastLoss).description("Loss of the last optimiser step").register(registry);
        Gauge.builder("katmesh.learner.reward.mean", () -> lastRewardMean).description("Mean reward of the last step's samples").register(registry);
        Gauge.builder("katmesh.learner.policy.version", () -> published.get() == null ? -1 : published.get().version())
                .description("The newest policy version published").register(registry);
        Gauge.builder("katmesh.learner.advantage.abs.mean", () -> lastAdvantageAbs)
                .description("Mean |advantage| of the last step's samples").register(registry);
        Gauge.builder("katmesh.learner.learning.rate", () -> lastLearningRate)
                .description("Learning rate of the last optimiser step (the stage's rate times its schedule)").register(registry);
        Gauge.builder("katmesh.learner.clipped.fraction", () -> lastClippedFraction)
                .description("Share of the last policy-gradient step's tokens whose importance ratio was clipped").register(registry);
        Gauge.builder("katmesh.learner.heldout.pass.rate", () -> heldoutPassRate)
                .description("Held-out pass rate of the last evaluated version").register(registry);
        Gauge.builder("katmesh.learner.steps", () -> steps).description("Optimiser steps taken").register(registry);
        tokensTrained = Counter.builder("katmesh.learner.tokens.trained").description("Tokens with a loss term, trained (rate: tokens/s)").register(registry);
        Gauge.builder("katmesh.learner.checkpoint.age.seconds",
                () -> published.get() == null ? -1 : (System.currentTimeMillis() - published.get().createdAtMs()) / 1000.0)
                .description("Age of the newest checkpoint").register(registry);
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
        return thread != null && !thread.isAlive() && running ? (failure == null ? "training loop exited" : failure) : failure;
    }

    /** The curriculum stage running now. */
    public String currentStage() {
        return currentStage;
    }

    public boolean trainingEnabled() {
        return settings.modelDir().isPresent();
    }

    private void run() {
        try {
            if (settings.modelDir().isPresent()) {
                runTraining(Path.of(settings.modelDir().get()));
            } else {
                runCountOnly();
            }
        } catch (WakeupException e) {
            // shutting down
        } catch (Exception e) {
            failure = e.toString();
            LOG.error("the training loop stopped", e);
        }
    }

    // ------------------------------------------------------------------ count-only mode

    private void runCountOnly() {
        try (KafkaConsumer<String, byte[]> c = newConsumer()) {
            consumer = c;
            c.subscribe(List.of(TOPIC));
            while (running) {
                var records = c.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, byte[]> r : records) {
                    dropped(parse(r) != null ? "no_model" : "malformed");
                }
                if (!records.isEmpty()) {
                    c.commitSync();
                }
            }
        }
    }

    // ------------------------------------------------------------------ training mode

    private void runTraining(Path modelDir) throws Exception {
        ModelConfig config = ModelConfig.read(modelDir.resolve("config.json"));
        Curriculum curriculum = settings.curriculum().map(f -> Curriculum.load(Path.of(f), settings.learningRate()))
                .orElse(Curriculum.rftOnly(settings.learningRate()));
        Optional<CheckpointStore.State> resume = store.latest();
        Path weightsDir = resume.map(s -> store.folder(s.version())).orElse(modelDir);
        List<String> devices = settings.devices().filter(d -> !d.isEmpty()).orElse(List.of(settings.device()));
        try (DecoderModel model = DecoderModel.load(weightsDir, config, PolicyModel.device(devices.get(0)));
             PolicyTokenizer tokenizer = PolicyTokenizer.load(modelDir)) {
            List<DecoderModel> replicas = new ArrayList<>(List.of(model));
            for (String d : devices.subList(1, devices.size())) {
                replicas.add(DecoderModel.fromTensors(config, model.toTensors(), PolicyModel.device(d), weightsDir));
            }
            this.replicas = replicas;
            // The KL penalty's frozen reference: the initial policy, never trained.
            this.reference = settings.klBeta() > 0 ? DecoderModel.load(modelDir, config, PolicyModel.device(devices.get(0))) : null;
            try {
                train(model, modelDir, tokenizer, curriculum, resume, weightsDir);
            } finally {
                replicas.subList(1, replicas.size()).forEach(DecoderModel::close);
                if (reference != null) {
                    reference.close();
                }
            }
        }
    }

    private List<DecoderModel> replicas = List.of();
    private DecoderModel reference;

    private void train(DecoderModel model, Path modelDir, PolicyTokenizer tokenizer, Curriculum curriculum,
                       Optional<CheckpointStore.State> resume, Path weightsDir) throws Exception {
        AdamW optimizer = new AdamW(model.parameters(), AdamW.Settings.defaults(settings.learningRate()));
        ChatTemplate template = ChatTemplate.load(modelDir);
        ChatSamples chat = new ChatSamples(template, tokenizer);
        evaluator = HeldOutEvaluator.of(settings.eval());
        progress.curriculum(curriculum.stages().stream().map(Curriculum.Stage::name).toList());
        try (KafkaConsumer<String, byte[]> c = newConsumer(); KafkaProducer<String, byte[]> producer = newProducer()) {
            consumer = c;
            CheckpointStore.State from;
            if (resume.isPresent()) {
                from = resume.get();
                var opt = dev.katmesh.policy.Checkpoints.loadOptimizer(weightsDir);
                Map<String, float[]> state = new HashMap<>();
                opt.tensors().forEach((name, t) -> state.put(name, t.data()));
                optimizer.restore(opt.step(), state);
                published.set(from);
                if (ledger.reconcile(store.ledgerEntry(from.version()))) {
                    LOG.infof("the ledger entry of policy version %d was appended on resume (a crash came between its checkpoint and the ledger)",
                            from.version());
                }
                LOG.infof("resuming from policy version %d (step %d, stage %s step %d) at offsets %s",
                        from.version(), from.step(), from.stage(), from.stageStep(), from.offsets());
            } else {
                TrainingLedger.Entry base = new TrainingLedger.Entry(0, 0, "base", List.of(), Map.of(), System.currentTimeMillis());
                from = store.write(0, 0, "base", 0, model, modelDir, optimizer.state(), 0, Map.of(), base);
                ledger.append(base);
                published.set(from);
                announce(producer, from, Double.NaN);
                LOG.infof("initial policy version 0 written to %s", store.folder(0));
                progress.published(point(from, model, tokenizer, template, true));
            }
            boolean fresh = from.stage().equals("base");
            int stageIndex = fresh ? 0 : curriculum.indexOf(from.stage());
            long stageStep = fresh ? 0 : from.stageStep();
            Run run = new Run(model, modelDir, chat, optimizer, c, producer, from.version(), from.step(), from.offsets());
            run.tokenizer = tokenizer;
            run.template = template;
            for (int i = stageIndex; i < curriculum.stages().size() && running; i++) {
                run.stage(curriculum.stages().get(i), i == stageIndex ? stageStep : 0);
            }
            if (running) {
                LOG.info("the curriculum is complete");
                progress.complete();
            }
            while (running) {
                Thread.sleep(500);
            }
        }
    }

    /** The state of a training run across the stages of the curriculum. */
    private final class Run {
        final DecoderModel model;
        final Path tokenizerDir;
        final ChatSamples chat;
        final AdamW optimizer;
        final KafkaConsumer<String, byte[]> consumer;
        final KafkaProducer<String, byte[]> producer;
        final StalenessGate gate = new StalenessGate(settings.maxStaleness());
        final Map<TopicPartition, TreeSet<Long>> held = new HashMap<>();
        final Map<TopicPartition, Long> next = new HashMap<>();
        final Map<String, Long> resumeOffsets;
        final DistributionSummary staleness;
        final Counter trained;
        final Counter groupsTrained;
        final Counter groupsTimedOut;
        final DistributionSummary latency;
        final ArrayDeque<Double> recentRewards = new ArrayDeque<>();
        // Lineage since the last published version (see TrainingLedger), and every id trained so far: a
        // record trained into a checkpoint and read again (its offset was behind one still held) is skipped.
        final Set<String> alreadyTrained = ledger.trainedIds();
        List<String> trainedSinceVersion = new ArrayList<>();
        Map<String, List<String>> droppedSinceVersion = new TreeMap<>();
        PolicyTokenizer tokenizer;
        ChatTemplate template;
        boolean subscribed;
        long recordsConsumed;
        long version;
        long step;
        int stepsSinceVersion;
        // Per stage:
        Curriculum.Stage stage;
        long stageStep;
        Trainer trainer;
        GroupAssembler<Member> groups;
        StepQueue<Member> queue;

        Run(DecoderModel model, Path tokenizerDir, ChatSamples chat, AdamW optimizer, KafkaConsumer<String, byte[]> consumer,
            KafkaProducer<String, byte[]> producer, long version, long step, Map<String, Long> resumeOffsets) {
            this.model = model;
            this.tokenizerDir = tokenizerDir;
            this.chat = chat;
            this.optimizer = optimizer;
            this.consumer = consumer;
            this.producer = producer;
            this.version = version;
            this.step = step;
            this.resumeOffsets = resumeOffsets;
            this.staleness = DistributionSummary.builder("katmesh.learner.staleness")
                    .description("Policy versions between a trajectory's oldest generated segment and the learner")
                    .publishPercentileHistogram().register(registry);
            this.trained = Counter.builder("katmesh.learner.trajectories.trained").description("Trajectories trained").register(registry);
            this.groupsTrained = Counter.builder("katmesh.learner.groups.trained").description("Groups trained").register(registry);
            this.latency = DistributionSummary.builder("katmesh.learner.agent.to.trainer.latency").baseUnit("milliseconds")
                    .description("From a trajectory's publication to the gradient step that first trained it")
                    .publishPercentiles(0.5, 0.99).register(registry);
            this.groupsTimedOut = Counter.builder("katmesh.learner.groups.timed.out").description("Groups trained incomplete after their timeout").register(registry);
        }

        void stage(Curriculum.Stage s, long fromStep) throws Exception {
            stage = s;
            stageStep = fromStep;
            currentStage = s.name();
            trainer = new Trainer(replicas, optimizer,
                    Curriculum.objective(s, settings.epsLow(), settings.epsHigh(), settings.klBeta(),
                            LossAggregation.valueOf(settings.lossAggregation().toUpperCase(Locale.ROOT)))
                            .withTemperature(s.kind() == Curriculum.Kind.POLICY_GRADIENT ? settings.samplingTemperature() : 1.0),
                    AdvantageEstimator.valueOf(settings.advantage().toUpperCase(Locale.ROOT)), reference,
                    s.learningRate() / settings.learningRate()).maxTreeTokens(settings.maxTreeTokens());
            recentRewards.clear();
            progress.stage(s.name(), s.kind().name().toLowerCase(Locale.ROOT), fromStep, s.steps());
            LOG.infof("stage %s (%s) from its step %d", s.name(), s.kind(), fromStep);
            if (s.fromTopic()) {
                topicStage();
            } else {
                fileStage();
                if (stepsSinceVersion > 0) {
                    publishVersion(true);
                }
            }
        }

        boolean stageDone() {
            if (stageStep >= stage.steps()) {
                return true;
            }
            Curriculum.Until until = stage.until();
            return until != null && until.metric().equals("reward_mean") && recentRewards.size() >= 5
                    && recentRewards.stream().mapToDouble(Double::doubleValue).average().orElse(0) >= until.atLeast();
        }

        // ---------------------------------------------------------------- file stages

        void fileStage() throws Exception {
            List<DataMix.Pool<FileRecord>> pools = new ArrayList<>();
            for (Curriculum.Source src : stage.sources()) {
                List<FileRecord> records = FileRecord.read(src.file());
                pools.add(new DataMix.Pool<>(src.file().getFileName().toString(), src.weight(),
                        DataMix.group(records, stage.balanceBy(), FileRecord::tags)));
            }
            DataMix<FileRecord> mix = new DataMix<>(pools, stage.name().hashCode());
            boolean errorMasked = stage.kind() == Curriculum.Kind.ERROR_MASKED_SFT;
            while (running && !stageDone()) {
                List<TrainingSample> batch = new ArrayList<>();
                for (DataMix.Draw<FileRecord> d : mix.draw(stageStep, stage.batch())) {
                    registry.counter("katmesh.learner.mix.records", "stage", stage.name(), "source", d.source(), "tags", d.tags()).increment();
                    TrainingSample sample = d.record().text() != null ? chat.text(d.record().text()) : chat.of(d.record().trajectory(), errorMasked);
                    if (sample.tokens().length > model.config().maxPositionEmbeddings()) {
                        dropped("too_long");
                    } else if (sample.trainableCount() > 0) {
                        batch.add(sample);
                    }
                }
                if (!batch.isEmpty()) {
                    train(List.of(batch), List.of(new double[batch.size()]), batch.size());
                }
                stageStep++;
                maybePublish();
            }
        }

        // ---------------------------------------------------------------- topic stages

        void topicStage() throws Exception {
            boolean rl = stage.kind() == Curriculum.Kind.POLICY_GRADIENT;
            int size = rl ? settings.groupSize() : settings.groupSize() * settings.groupsPerStep();
            groups = new GroupAssembler<>(size, settings.groupTimeout().toMillis(), System::currentTimeMillis);
            queue = new StepQueue<>(settings.groupsPerStep(), rl ? gate : null, Member::reward, Member::oldestVersion, this::skipped);
            subscribe();
            while (running && !stageDone()) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    accept(r, rl);
                    recordsConsumed++;
                }
                for (GroupAssembler.Ready<Member> g : groups.expired()) {
                    groupsTimedOut.increment();
                    queue.offer(g.members());
                }
                queue.dropStale(version);
                while (queue.ready() && !stageDone()) {
                    topicStep();
                    queue.dropStale(version);
                }
                progress.consumed(recordsConsumed, queue.size());
            }
            // The stage ends with a checkpoint whose offsets stop before what it holds untrained (the last
            // one already does when no step came after it); the next stage reads from there, so those
            // records are not lost between stages.
            if (stepsSinceVersion > 0) {
                publishVersion(true);
            }
            held.values().forEach(TreeSet::clear);
            for (Map.Entry<TopicPartition, Long> e : next.entrySet()) {
                consumer.seek(e.getKey(), published.get().offsets().getOrDefault(key(e.getKey()), e.getValue()));
            }
            next.clear();
        }

        void subscribe() {
            if (subscribed) {
                return;
            }
            subscribed = true;
            consumer.subscribe(List.of(TOPIC), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    for (TopicPartition tp : partitions) {
                        Long offset = resumeOffsets.get(key(tp));
                        if (offset != null) {
                            consumer.seek(tp, offset);
                        }
                    }
                }
            });
        }

        void accept(ConsumerRecord<String, byte[]> r, boolean rl) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            next.put(tp, r.offset() + 1);
            ScoredTrajectory s = parse(r);
            if (s == null) {
                droppedId("malformed", headerId(r));
                return;
            }
            String id = s.getTrajectory().getTrajectoryId();
            if (alreadyTrained.contains(id)) {
                droppedId("already_trained", id);
                return;
            }
            String wanted = stage.sources().get(0).trajectorySource();
            if (wanted != null && !wanted.equals(sourceTag(s.getTrajectory().getSource()))) {
                droppedId("other_source", id);
                return;
            }
            if (!stage.taskless().admits(s.getTaskless())) {
                droppedId(s.getTaskless() ? "taskless" : "not_taskless", id);
                return;
            }
            if (!rl && !Double.isNaN(stage.minReward()) && s.getReward() < stage.minReward()) {
                droppedId("below_min_reward", id);
                return;
            }
            if (rl && s.getPlaceholder()) {
                droppedId("placeholder", id);
                return;
            }
            boolean hasTokens = s.getTrajectory().getTokenIdsCount() >= 2;
            if (rl && !hasTokens) {
                droppedId("no_tokens", id);
                return;
            }
            long oldest = rl ? TrajectorySamples.oldestVersion(s.getTrajectory()) : -1;
            if (rl) {
                StalenessGate.Decision d = gate.decide(oldest, version);
                if (oldest >= 0) {
                    staleness.record(d.staleness());
                    progress.staleness(d.staleness());
                }
                if (!d.accepted()) {
                    droppedId("stale", id);
                    return;
                }
            }
            boolean errorMasked = stage.kind() == Curriculum.Kind.ERROR_MASKED_SFT;
            TrainingSample sample = hasTokens ? TrajectorySamples.of(s, errorMasked) : chat.of(s.getTrajectory(), errorMasked);
            if (sample.trainableCount() == 0) {
                droppedId("no_generated_tokens", id);
                return;
            }
            if (sample.tokens().length > model.config().maxPositionEmbeddings()) {
                droppedId("too_long", id);
                return;
            }
            Member m = new Member(id, tp, r.offset(), sample, s.getReward(), publishedAtMs(r, s), oldest);
            held.computeIfAbsent(tp, k -> new TreeSet<>()).add(r.offset());
            String group = rl ? s.getTrajectory().getGroupId() : "batch";
            for (GroupAssembler.Ready<Member> g : groups.add(group, m)) {
                queue.offer(g.members());
            }
        }

        /** A group the step queue dropped (no reward variance, too small, or stale by now): counted, offsets released. */
        void skipped(List<Member> g, String reason) {
            for (Member m : g) {
                droppedId(reason, m.trajectoryId());
            }
            if (!reason.equals(StepQueue.STALE)) {
                registry.counter("katmesh.learner.groups.skipped", "reason", reason).increment();
            }
            for (Member m : g) {
                held.get(m.partition()).remove(m.offset());
            }
        }

        /** A consumed record not trained, counted and kept for the ledger. */
        void droppedId(String reason, String id) {
            dropped(reason);
            droppedSinceVersion.computeIfAbsent(reason, k -> new ArrayList<>()).add(id);
        }

        void topicStep() throws Exception {
            List<List<TrainingSample>> batch = new ArrayList<>();
            List<double[]> rewards = new ArrayList<>();
            List<Member> members = new ArrayList<>();
            for (List<Member> g : queue.take()) {
                members.addAll(g);
                batch.add(g.stream().map(Member::sample).toList());
                rewards.add(g.stream().mapToDouble(Member::reward).toArray());
            }
            if (!batch.isEmpty()) {
                train(batch, rewards, batch.stream().mapToInt(List::size).sum());
                stageStep++;
                for (Member m : members) {
                    trainedSinceVersion.add(m.trajectoryId());
                    alreadyTrained.add(m.trajectoryId());
                }
                long now = System.currentTimeMillis();
                for (Member m : members) {
                    if (m.publishedAtMs() > 0) {
                        latency.record(Math.max(0, now - m.publishedAtMs()));
                        progress.latency(Math.max(0, now - m.publishedAtMs()));
                    }
                }
            }
            for (Member m : members) {
                held.get(m.partition()).remove(m.offset());
            }
            maybePublish();
        }

        void train(List<List<TrainingSample>> batch, List<double[]> rewards, int n) {
            double lrFactor = stage.schedule().factor(stageStep, stage.steps());
            Trainer.StepResult result = trainer.step(batch, rewards, lrFactor);
            for (int u = 1; u < stage.updatesPerBatch(); u++) { // GRPO's μ: more updates on the same samples
                result = trainer.step(batch, rewards, lrFactor);
            }
            lastLearningRate = stage.learningRate() * lrFactor;
            step++;
            steps = step;
            stepsSinceVersion++;
            lastLoss = result.loss();
            lastAdvantageAbs = result.meanAdvantageAbs();
            double mean = rewards.stream().flatMapToDouble(java.util.Arrays::stream).average().orElse(Double.NaN);
            if (stage.kind() == Curriculum.Kind.POLICY_GRADIENT) {
                lastClippedFraction = result.clippedFraction();
                lastRewardMean = mean;
                recentRewards.add(mean);
                if (recentRewards.size() > 5) {
                    recentRewards.poll();
                }
            }
            trained.increment(n);
            groupsTrained.increment(batch.size());
            tokensTrained.increment(result.tokens());
            progress.stepped(step, stageStep + 1, result.loss(), stage.kind() == Curriculum.Kind.POLICY_GRADIENT ? mean : Double.NaN,
                    n, result.tokens());
            LOG.debugf("step %d (%s %d): loss %.4f over %d tokens of %d trajectories, clipped fraction %.3f, reward mean %.3f", step, stage.name(),
                    stageStep, result.loss(), result.tokens(), n, result.clippedFraction(), mean);
        }

        void maybePublish() throws Exception {
            if (stepsSinceVersion >= (stage.versionEvery() > 0 ? stage.versionEvery() : settings.versionEvery())) {
                publishVersion(false);
            }
        }

        void publishVersion(boolean stageEnd) throws Exception {
            Map<String, Long> offsets = new HashMap<>(resumeOffsets);
            if (published.get() != null) {
                offsets.putAll(published.get().offsets());
            }
            for (Map.Entry<TopicPartition, Long> e : next.entrySet()) {
                TreeSet<Long> h = held.get(e.getKey());
                offsets.put(key(e.getKey()), h == null || h.isEmpty() ? e.getValue() : h.first());
            }
            long v = version + 1;
            TrainingLedger.Entry entry = new TrainingLedger.Entry(v, step, stage.name(), trainedSinceVersion, droppedSinceVersion,
                    System.currentTimeMillis());
            CheckpointStore.State state = store.write(v, step, stage.name(), stageStep, model, tokenizerDir, optimizer.state(),
                    optimizer.step(), offsets, entry);
            ledger.append(entry);
            trainedSinceVersion = new ArrayList<>();
            droppedSinceVersion = new TreeMap<>();
            // Servable before announced: an inference instance that hears of it asks Weights for it at once.
            published.set(state);
            announce(producer, state, lastRewardMean);
            if (subscribed && !offsets.isEmpty()) {
                Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
                offsets.forEach((k, o) -> commit.put(partition(k), new OffsetAndMetadata(o)));
                consumer.commitSync(commit);
            }
            version = v;
            stepsSinceVersion = 0;
            LOG.infof("policy version %d published (step %d, stage %s step %d, sha256 %s)", v, step, stage.name(), stageStep, state.sha256());
            progress.published(point(state, model, tokenizer, template, stageEnd));
        }
    }

    /** A published version's point of the progress history, evaluated on the held-out tasks when due. */
    private LearnerProgress.VersionPoint point(CheckpointStore.State state, DecoderModel model, PolicyTokenizer tokenizer,
                                               ChatTemplate template, boolean stageEnd) throws Exception {
        double rate = Double.NaN;
        int passed = 0;
        int total = 0;
        long evalMs = 0;
        Map<String, LearnerProgress.FamilyScore> byFamily = new TreeMap<>();
        Map<String, LearnerProgress.FamilyScore> validationByFamily = new TreeMap<>();
        if (evaluator != null && evaluator.due(state.version(), stageEnd)) {
            progress.evaluating("policy version " + state.version() + " on " + evaluator.size() + " evaluation tasks");
            try {
                var result = evaluator.evaluate(model, tokenizer, template, state.version());
                evalMs = result.wallMs();
                for (var t : result.tasks()) {
                    boolean validation = t.split().equals("validation"); // every other task counts as held out
                    (validation ? validationByFamily : byFamily).merge(t.template().isEmpty() ? "untagged" : t.template(),
                            new LearnerProgress.FamilyScore(t.passed() ? 1 : 0, 1),
                            (a, b) -> new LearnerProgress.FamilyScore(a.passed() + b.passed(), a.total() + b.total()));
                    if (!validation) {
                        passed += t.passed() ? 1 : 0;
                        total++;
                    }
                }
                rate = total == 0 ? Double.NaN : (double) passed / total;
                heldoutPassRate = rate;
                LOG.infof("policy version %d: held-out %d/%d, validation %d/%d, in %d ms", state.version(), passed, total,
                        validationByFamily.values().stream().mapToInt(LearnerProgress.FamilyScore::passed).sum(),
                        validationByFamily.values().stream().mapToInt(LearnerProgress.FamilyScore::total).sum(), evalMs);
            } finally {
                progress.evaluating(null);
            }
        }
        return new LearnerProgress.VersionPoint(state.version(), state.stage(), state.step(), state.stageStep(), lastLoss,
                lastRewardMean, rate, passed, total, progress.trajectoriesTrained(), state.createdAtMs(), evalMs, byFamily,
                validationByFamily);
    }

    /**
     * When a trajectory was published: the reward service's {@code katmesh-published-ms} header (the raw
     * record's timestamp), else the trajectory's creation time.
     */
    private static long publishedAtMs(ConsumerRecord<String, byte[]> r, ScoredTrajectory s) {
        var h = r.headers().lastHeader("katmesh-published-ms");
        if (h != null) {
            try {
                return Long.parseLong(new String(h.value(), java.nio.charset.StandardCharsets.UTF_8));
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        return s.getTrajectory().getCreatedAtMs();
    }

    private void announce(KafkaProducer<String, byte[]> producer, CheckpointStore.State state, double rewardMean) throws Exception {
        PolicyVersion.Builder pv = PolicyVersion.newBuilder()
                .setVersion(state.version())
                .setCheckpointUri(store.folder(state.version()).toUri().toString())
                .setSha256(state.sha256())
                .setStep(state.step())
                .setStage(state.stage())
                .setCreatedAtMs(state.createdAtMs())
                .setParentVersion(Math.max(0, state.version() - 1))
                .setModelName("katmesh");
        if (!Double.isNaN(lastLoss)) {
            pv.putMetrics("loss", lastLoss);
        }
        if (!Double.isNaN(rewardMean)) {
            pv.putMetrics("reward_mean", rewardMean);
        }
        producer.send(new ProducerRecord<>(VERSIONS_TOPIC, Long.toString(state.version()), pv.build().toByteArray())).get(30, TimeUnit.SECONDS);
    }

    /** The id a scored record's header names, or its position when it has none (an unreadable record). */
    private static String headerId(ConsumerRecord<String, byte[]> r) {
        var h = r.headers().lastHeader("katmesh-trajectory-id");
        return h != null ? new String(h.value(), java.nio.charset.StandardCharsets.UTF_8) : r.topic() + "-" + r.partition() + "@" + r.offset();
    }

    private ScoredTrajectory parse(ConsumerRecord<String, byte[]> r) {
        try {
            ScoredTrajectory s = ScoredTrajectory.parseFrom(r.value() == null ? new byte[0] : r.value());
            registry.counter("katmesh.learner.trajectories.received", "source", sourceTag(s.getTrajectory().getSource())).increment();
            return s;
        } catch (InvalidProtocolBufferException e) {
            LOG.warnf("dropping an unreadable record at %s-%d@%d: %s", r.topic(), r.partition(), r.offset(), e.getMessage());
            return null;
        }
    }

    private void dropped(String reason) {
        dropped(reason, 1);
    }

    private void dropped(String reason, int n) {
        if (progress != null) {
            progress.dropped(reason, n);
        }
        registry.counter("katmesh.learner.trajectories.dropped", "reason", reason).increment(n);
    }

    private static String sourceTag(TrajectorySource s) {
        return switch (s) {
            case TRAJECTORY_SOURCE_DEPLOYED -> "deployed";
            case TRAJECTORY_SOURCE_ROLLOUT -> "rollout";
            default -> "unspecified";
        };
    }

    private static String key(TopicPartition tp) {
        return tp.topic() + "-" + tp.partition();
    }

    private static TopicPartition partition(String key) {
        int dash = key.lastIndexOf('-');
        return new TopicPartition(key.substring(0, dash), Integer.parseInt(key.substring(dash + 1)));
    }

    /** The application's kafka.* settings that a client of this kind knows. */
    private Properties clientConfig(java.util.Set<String> known) {
        Properties p = new Properties();
        kafkaConfig.forEach((k, v) -> {
            if (known.contains(k) || k.startsWith("sasl.") || k.startsWith("ssl.") || k.equals("security.protocol")) {
                p.put(k, String.valueOf(v));
            }
        });
        return p;
    }

    private KafkaConsumer<String, byte[]> newConsumer() {
        Properties p = clientConfig(ConsumerConfig.configNames());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "katmesh-learner");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.putIfAbsent(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "15000");
        p.putIfAbsent(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "3000");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "64");
        // A training step can take a while on a CPU: allow it between polls.
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "600000");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    private KafkaProducer<String, byte[]> newProducer() {
        Properties p = clientConfig(ProducerConfig.configNames());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return new KafkaProducer<>(p);
    }

}
