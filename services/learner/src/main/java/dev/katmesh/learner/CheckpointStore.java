package dev.katmesh.learner;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.proto.v1.PolicyVersion;
import dev.katmesh.proto.v1.RolloutSupervision;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Checkpoints of the learner, one folder per policy version ({@code v000012/}): the Hugging Face model
 * (config.json, model.safetensors, tokenizer files), or for an adapter version a PEFT adapter folder
 * (adapter_config.json, adapter_model.safetensors) whose base is an earlier full version kept as long as it is; the
 * optimizer state of what was trained; and {@code learner.json} with the version, step, stage, SHA-256 of the
 * weights, the consumed Kafka offsets and, for an adapter version, its base version.
 *
 * <p>DESIGN: a checkpoint is written into a temporary folder and renamed into place, so a crash leaves
 * either the whole checkpoint or none; the offsets it records are the ones the consumer commits after
 * the rename, never before, so a restarted learner resumes exactly after what its weights include.
 */
public final class CheckpointStore {

    static final String STATE_FILE = "learner.json";
    /** The version's announcement as sent, so a learner that died before sending it sends the same bytes. */
    static final String ANNOUNCEMENT_FILE = "announcement.pb";

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What a checkpoint records besides the tensors.
     *
     * @param baseVersion for an adapter version, the full version its adapters apply to; null for a full version
     */
    public record State(
            long version,
            long step,
            String stage,
            long stageStep,
            String sha256,
            Map<String, Long> offsets,
            long createdAtMs,
            Long baseVersion) {

        /** Whether this version is LoRA adapters on {@link #baseVersion} rather than a model. */
        public boolean adapter() {
            return baseVersion != null;
        }

        /** The full version whose weights this version serves on: its base, or itself. */
        public long weightsVersion() {
            return adapter() ? baseVersion : version;
        }
    }

    private final Path root;
    private final int keep;
    /** Versions kept whatever their age, by what keeps them: the starting points of later stages ({@link StageBranch}). */
    private final Map<String, Long> pinned = new ConcurrentHashMap<>();

    public CheckpointStore(Path root, int keep) {
        this.root = root;
        this.keep = keep;
    }

    /**
     * The announcement of a version (katmesh.policy.versions) and the Weights service's answer about it: one
     * form, built here. {@code metrics} are the last step's figures (loss, reward_mean), NaN ones left out.
     */
    public PolicyVersion policyVersion(State s, Map<String, Double> metrics) {
        return policyVersion(s, metrics, null);
    }

    /** The announcement with the supervision rule of the stage that made it (null: none) for the rollout service. */
    public PolicyVersion policyVersion(State s, Map<String, Double> metrics, RolloutSupervision rule) {
        PolicyVersion.Builder pv = PolicyVersion.newBuilder()
                .setVersion(s.version())
                .setSha256(s.sha256())
                .setStep(s.step())
                .setStage(s.stage())
                .setCheckpointUri(folder(s.version()).toUri().toString())
                .setCreatedAtMs(s.createdAtMs())
                .setParentVersion(Math.max(0, s.version() - 1))
                .setModelName("katmesh")
                .setAdapter(s.adapter())
                .setBaseVersion(s.adapter() ? s.baseVersion() : 0)
                .setBaseSha256(s.adapter() ? baseSha256(s.baseVersion()) : "");
        metrics.forEach((k, v) -> {
            if (!Double.isNaN(v)) {
                pv.putMetrics(k, v);
            }
        });
        if (rule != null) {
            pv.setRolloutSupervision(rule);
        }
        return pv.build();
    }

    /** The weights' SHA-256 of a kept full version (an adapter version's base is kept as long as it is). */
    private String baseSha256(long version) {
        try {
            return state(version)
                    .orElseThrow(() -> new IllegalStateException("base version " + version + " is not kept"))
                    .sha256();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Keeps {@code version}'s checkpoint however many versions come after it, for {@code why} (replacing its last). */
    public void pin(String why, long version) {
        pinned.put(why, version);
    }

    public Path folder(long version) {
        return root.resolve(String.format("v%06d", version));
    }

    /**
     * Writes a checkpoint atomically, with the version's {@link TrainingLedger} entry and its announcement (built
     * with {@code metrics} and the stage's supervision {@code rule}) inside it; returns its state (with the weights'
     * SHA-256). A model with adapters attached is written as an adapter version on {@code baseVersion}: the adapters
     * alone.
     */
    public State write(
            long version,
            long step,
            String stage,
            long stageStep,
            DecoderModel model,
            Path tokenizerDir,
            Map<String, NDArray> optimizerState,
            long optimizerStep,
            Map<String, Long> offsets,
            TrainingLedger.Entry ledgerEntry,
            Map<String, Double> metrics,
            Long baseVersion,
            RolloutSupervision rule)
            throws IOException {
        Files.createDirectories(root);
        Path tmp = root.resolve(".tmp-" + folder(version).getFileName());
        deleteRecursively(tmp);
        Optional<LoraAdapters> adapters = model.adapters();
        if (adapters.isPresent() != (baseVersion != null)) {
            throw new IllegalArgumentException("an adapter version needs its base version, and only it has one");
        }
        String sha256 = adapters.isPresent()
                ? Checkpoints.saveAdapters(
                        adapters.get(),
                        model.config(),
                        tmp,
                        tokenizerDir,
                        folder(baseVersion).toString())
                : Checkpoints.saveModel(model, tmp, tokenizerDir);
        if (optimizerState != null) {
            Checkpoints.saveOptimizer(tmp, optimizerStep, optimizerState);
        }
        State state = new State(
                version,
                step,
                stage,
                stageStep,
                sha256,
                new TreeMap<>(offsets),
                System.currentTimeMillis(),
                baseVersion);
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve(STATE_FILE).toFile(), state);
        if (ledgerEntry != null) {
            Files.write(tmp.resolve(TrainingLedger.ENTRY_FILE), TrainingLedger.serialize(ledgerEntry));
        }
        Files.write(
                tmp.resolve(ANNOUNCEMENT_FILE),
                policyVersion(state, metrics, rule).toByteArray());
        Path target = folder(version);
        deleteRecursively(target);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        prune();
        return state;
    }

    /** The newest complete checkpoint. */
    public Optional<State> latest() throws IOException {
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(root)) {
            Optional<Path> newest = s.filter(p -> p.getFileName().toString().matches("v\\d{6}"))
                    .filter(p -> Files.isRegularFile(p.resolve(STATE_FILE)))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
            if (newest.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(JSON.readValue(newest.get().resolve(STATE_FILE).toFile(), State.class));
        }
    }

    /** The ledger entry written with a checkpoint, or null (none, or a checkpoint from before ledgers). */
    public TrainingLedger.Entry ledgerEntry(long version) throws IOException {
        return TrainingLedger.read(folder(version).resolve(TrainingLedger.ENTRY_FILE));
    }

    /**
     * Replaces the supervision rule in the announcement kept with {@code s}'s checkpoint (null: none), atomically, and
     * returns the new announcement: a stage announces its rule on the version it starts sampling from, and a learner
     * that resumes there announces that rule again.
     */
    public PolicyVersion reannounce(State s, RolloutSupervision rule) throws IOException {
        PolicyVersion.Builder pv = announcement(s).toBuilder();
        PolicyVersion updated = (rule == null ? pv.clearRolloutSupervision() : pv.setRolloutSupervision(rule)).build();
        Path f = folder(s.version()).resolve(ANNOUNCEMENT_FILE);
        Path tmp = f.resolveSibling(ANNOUNCEMENT_FILE + ".tmp");
        Files.write(tmp, updated.toByteArray());
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return updated;
    }

    /** The announcement written with the checkpoint of {@code s}; one without metrics for an older checkpoint. */
    public PolicyVersion announcement(State s) throws IOException {
        Path f = folder(s.version()).resolve(ANNOUNCEMENT_FILE);
        return Files.isRegularFile(f) ? PolicyVersion.parseFrom(Files.readAllBytes(f)) : policyVersion(s, Map.of());
    }

    public Optional<State> state(long version) throws IOException {
        Path f = folder(version).resolve(STATE_FILE);
        return Files.isRegularFile(f) ? Optional.of(JSON.readValue(f.toFile(), State.class)) : Optional.empty();
    }

    /**
     * Keeps the newest {@code keep} versions, the full versions that kept adapter versions apply to, and the pinned
     * ones.
     */
    private void prune() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            List<Path> versions = s.filter(p -> p.getFileName().toString().matches("v\\d{6}"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString()))
                    .toList();
            Set<Path> bases = new HashSet<>();
            pinned.values().forEach(v -> bases.add(folder(v)));
            for (Path v : versions.subList(Math.max(0, versions.size() - keep), versions.size())) {
                Path f = v.resolve(STATE_FILE);
                if (Files.isRegularFile(f)) {
                    State st = JSON.readValue(f.toFile(), State.class);
                    if (st.adapter()) {
                        bases.add(folder(st.baseVersion()));
                    }
                }
            }
            for (int i = 0; i < versions.size() - keep; i++) {
                if (!bases.contains(versions.get(i))) {
                    deleteRecursively(versions.get(i));
                }
            }
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path x : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
