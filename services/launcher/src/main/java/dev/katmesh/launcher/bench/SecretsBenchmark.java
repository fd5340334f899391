package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.secrets.SecretScanner;
import dev.katmesh.secrets.TrajectoryRedactor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the reward's secret scan costs a record, beside the work the reward does on every record anyway: the JSON
 * decode of the raw record and the protobuf encode of the scored one; and the machine's own limit, a copy of the same
 * bytes. The records are {@link IngestionRecords}' sessions (no secret in them: a finding is a false alarm, counted).
 * The phases alternate, {@code repeats} rounds, and the median round is kept, so that a noisy machine weighs them
 * alike.
 */
public final class SecretsBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();

    private SecretsBenchmark() {}

    public static ObjectNode run(int[] sizes, int megabytes, int repeats) throws Exception {
        TrajectoryRedactor redactor = new TrajectoryRedactor(SecretScanner.standard());
        ObjectNode out = JSON.createObjectNode();
        out.put("repeats", repeats);
        ArrayNode rows = out.putArray("rows");
        for (int size : sizes) {
            List<byte[]> raw = new ArrayList<>();
            long bytes = 0;
            for (int i = 0; bytes < (long) megabytes << 20; i++) {
                byte[] r = (size <= 1024
                                ? IngestionRecords.trajectory("secrets", i)
                                : IngestionRecords.session("secrets", i, size))
                        .getBytes(StandardCharsets.UTF_8);
                raw.add(r);
                bytes += r.length;
            }
            List<ScoredTrajectory> scored = new ArrayList<>();
            for (byte[] r : raw) {
                scored.add(ScoredTrajectory.newBuilder()
                        .setTrajectory(TrajectoryJson.parse(r).trajectory())
                        .build());
            }
            long[][] nanos = new long[4][repeats + 1];
            int falseAlarms = 0;
            byte[] sink = new byte[raw.stream().mapToInt(b -> b.length).max().orElse(0)];
            for (int round = 0; round <= repeats; round++) { // round 0 warms up and is not kept
                long t0 = System.nanoTime();
                for (byte[] r : raw) {
                    System.arraycopy(r, 0, sink, 0, r.length);
                }
                long t1 = System.nanoTime();
                for (byte[] r : raw) {
                    TrajectoryJson.parse(r);
                }
                long t2 = System.nanoTime();
                int found = 0;
                for (ScoredTrajectory s : scored) {
                    found += redactor.redact(s).getRedactionsCount();
                }
                long t3 = System.nanoTime();
                for (ScoredTrajectory s : scored) {
                    s.toByteArray();
                }
                long t4 = System.nanoTime();
                falseAlarms = found;
                long[] phase = {t1 - t0, t2 - t1, t3 - t2, t4 - t3};
                for (int p = 0; p < 4; p++) {
                    nanos[p][round] = phase[p];
                }
            }
            double mb = bytes / 1e6;
            double copy = mb / median(nanos[0]);
            double decode = mb / median(nanos[1]);
            double scan = mb / median(nanos[2]);
            double encode = mb / median(nanos[3]);
            ObjectNode row = rows.addObject();
            row.put("record_bytes", bytes / raw.size());
            row.put("records", raw.size());
            row.put("copy_mb_s", Math.round(copy));
            row.put("json_decode_mb_s", Math.round(decode));
            row.put("scan_mb_s", Math.round(scan));
            row.put("protobuf_encode_mb_s", Math.round(encode));
            // time ratios: the scan's time over the decode's, and its share of decode + scan + encode
            row.put("scan_over_decode", round2(decode / scan));
            row.put("scan_share", round2((1 / scan) / (1 / decode + 1 / scan + 1 / encode)));
            row.put("false_alarms", falseAlarms);
        }
        return out;
    }

    /** Seconds of the median kept round (round 0 is the warm-up). */
    private static double median(long[] rounds) {
        long[] kept = Arrays.copyOfRange(rounds, 1, rounds.length);
        Arrays.sort(kept);
        return kept[kept.length / 2] / 1e9;
    }

    private static double round2(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
