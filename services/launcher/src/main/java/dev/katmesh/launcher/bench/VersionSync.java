package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.Checkpoints;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.SafeTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A version's sync, full against LoRA, side by side: the learner writes its checkpoint (hashed as written), and a
 * receiver hashes the bytes the Weights stream would carry (the check every fetch makes) and installs them: a full
 * version's weights copied into a model, a LoRA version's adapters attached. The loopback gRPC transfer in between
 * costs the same per byte for both ({@code bench swap} measures it), so bytes and these times give the ratio.
 */
final class VersionSync {

    private VersionSync() {}

    static ObjectNode compare(DecoderModel model, LoraAdapters adapters, Path base) throws Exception {
        ObjectNode out = new ObjectMapper().createObjectNode();
        Path dir = Files.createTempDirectory("katmesh-sync-");
        try {
            ObjectNode full = out.putObject("full");
            Path fullDir = dir.resolve("full");
            long t0 = System.nanoTime();
            Checkpoints.saveModel(model, fullDir, null);
            long t1 = System.nanoTime();
            long bytes = hash(fullDir);
            long t2 = System.nanoTime();
            try (DecoderModel received = DecoderModel.load(fullDir, model.config(), model.device())) {
                model.copyWeights(received.parameters());
            }
            report(full, bytes, t0, t1, t2, System.nanoTime());

            ObjectNode lora = out.putObject("lora");
            Path loraDir = dir.resolve("lora");
            t0 = System.nanoTime();
            Checkpoints.saveAdapters(adapters, model.config(), loraDir, null, base.toString());
            t1 = System.nanoTime();
            bytes = hash(loraDir);
            t2 = System.nanoTime();
            LoraAdapters received = LoraAdapters.load(loraDir, model.config(), model.manager());
            model.attachAdapters(received).close();
            report(lora, bytes, t0, t1, t2, System.nanoTime());
            out.put(
                    "bytes_ratio",
                    Measurements.round(
                            full.get("bytes").asDouble() / lora.get("bytes").asDouble()));
            out.put(
                    "time_ratio",
                    Measurements.round(
                            full.get("total_s").asDouble() / lora.get("total_s").asDouble()));
            return out;
        } finally {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void report(ObjectNode r, long bytes, long t0, long t1, long t2, long t3) {
        r.put("bytes", bytes);
        r.put("write_s", Measurements.round((t1 - t0) / 1e9));
        r.put("verify_s", Measurements.round((t2 - t1) / 1e9));
        r.put("install_s", Measurements.round((t3 - t2) / 1e9));
        r.put("total_s", Measurements.round((t3 - t0) / 1e9));
    }

    /** SHA-256 over the tensors a version's stream carries; returns their bytes. */
    private static long hash(Path dir) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long n = 0;
            for (SafeTensors.Slot s : Checkpoints.mappedWeights(dir)) {
                n += s.bytes().remaining();
                md.update(s.bytes().duplicate());
            }
            md.digest();
            return n;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
