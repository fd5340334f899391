package dev.katmesh.learner;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lineage: which trajectory ids went into which policy version. One line of {@code ledger.jsonl}
 * (beside the checkpoints) per published version: the ids its steps trained since the version before,
 * and the ids the learner consumed and dropped in that span, by reason. {@code ./katmesh audit}
 * reconciles it with the topics (GET /katmesh/ledger serves it).
 *
 * <p>DESIGN: an entry describes exactly what its checkpoint's weights and offsets include, so it is
 * written into the checkpoint folder before the atomic rename, then appended (and forced to disk) here.
 * A crash between the two leaves the checkpoint with an entry this file lacks; on start
 * {@link #reconcile} appends it. Steps after the last checkpoint die with a crash, weights and all, and
 * are in no entry: their records are consumed and trained again, once. A crash mid-append leaves a torn
 * last line, which is cut off on open.
 */
public final class TrainingLedger {

    /**
     * One published version's lineage.
     *
     * @param replay   set when the version was trained by a replay stage: the stage's name (its ids may have been
     *                 trained before, by other stages; within one replay each is trained once)
     * @param replayed the replay's offsets {@code [from, to)} per partition of the scored log that this version covers
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(
            long version,
            long step,
            String stage,
            List<String> trained,
            Map<String, List<String>> dropped,
            long createdAtMs,
            String replay,
            Map<String, long[]> replayed) {

        public Entry(
                long version,
                long step,
                String stage,
                List<String> trained,
                Map<String, List<String>> dropped,
                long createdAtMs) {
            this(version, step, stage, trained, dropped, createdAtMs, null, null);
        }
    }

    static final String ENTRY_FILE = "ledger.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final List<Entry> entries = new ArrayList<>();

    public TrainingLedger(Path file) {
        this.file = file;
        try {
            cutTornTail();
            if (Files.isRegularFile(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (!line.isBlank()) {
                        entries.add(JSON.readValue(line, Entry.class));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the training ledger " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    /** Appends an entry and forces it to disk. */
    public synchronized void append(Entry e) throws IOException {
        Files.createDirectories(file.getParent());
        byte[] line = line(e);
        try (FileChannel ch = FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        entries.add(e);
    }

    /** Appends the entry of the checkpoint the learner resumes from, if a crash kept it from being appended. */
    public synchronized boolean reconcile(Entry fromCheckpoint) throws IOException {
        if (fromCheckpoint == null || lastVersion() >= fromCheckpoint.version()) {
            return false;
        }
        append(fromCheckpoint);
        return true;
    }

    public synchronized long lastVersion() {
        return entries.isEmpty() ? -1 : entries.get(entries.size() - 1).version();
    }

    /** Every id a published version trained: a restarted learner skips these when it consumes them again. */
    public synchronized Set<String> trainedIds() {
        Set<String> ids = new HashSet<>();
        entries.forEach(e -> ids.addAll(e.trained()));
        return ids;
    }

    public synchronized List<Entry> entries() {
        return List.copyOf(entries);
    }

    /** An entry as one line of JSON, newline included. */
    static byte[] line(Entry e) {
        try {
            return (JSON.writeValueAsString(e) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    static byte[] serialize(Entry e) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e);
        } catch (JsonProcessingException ex) {
            throw new IllegalStateException(ex);
        }
    }

    static Entry read(Path entryFile) throws IOException {
        return Files.isRegularFile(entryFile) ? JSON.readValue(entryFile.toFile(), Entry.class) : null;
    }

    private void cutTornTail() throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) == 0) {
            return;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            ByteBuffer one = ByteBuffer.allocate(1);
            long keep = size;
            while (keep > 0) {
                one.clear();
                ch.read(one, keep - 1);
                if (one.get(0) == '\n') {
                    break;
                }
                keep--;
            }
            if (keep < size) {
                ch.truncate(keep);
                ch.force(true);
            }
        }
    }
}
