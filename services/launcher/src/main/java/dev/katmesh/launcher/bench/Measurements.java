package dev.katmesh.launcher.bench;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.jna.NativeLibrary;
import dev.katmesh.policy.ModelConfig;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

/** Small helpers the benchmarks share: medians of repeated measurements, rounding, peak memory. */
public final class Measurements {

    private Measurements() {}

    public static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** The model a benchmark ran: its size and shape, and the device. */
    public static void putModel(ObjectNode out, ModelConfig config, Device device) {
        ObjectNode info = out.putObject("model");
        info.put("parameters", config.parameterCount());
        info.put("layers", config.numLayers());
        info.put("hidden", config.hiddenSize());
        info.put("heads", config.numHeads());
        info.put("device", device.toString());
        out.put("heap_max_mb", Runtime.getRuntime().maxMemory() >> 20);
    }

    /**
     * The native allocator this process runs with, as figures that allocate depend on it: the preloaded library and
     * its MALLOC_CONF, or glibc's with any MALLOC_MMAP_THRESHOLD_ (the katmesh script preloads tcmalloc).
     */
    public static String allocator() {
        String preload = System.getenv("LD_PRELOAD");
        if (preload != null && !preload.isBlank()) {
            String conf = System.getenv("MALLOC_CONF");
            return Path.of(preload.split(":")[0]).getFileName() + (conf == null ? "" : " " + conf);
        }
        String threshold = System.getenv("MALLOC_MMAP_THRESHOLD_");
        return "glibc" + (threshold == null ? "" : " MALLOC_MMAP_THRESHOLD_=" + threshold);
    }

    /**
     * Hands the pages the native allocator keeps free back to the system, so that a phase's peak resident set starts
     * from what is live, not from buffers earlier phases (this benchmark's own limits among them) freed: tcmalloc's
     * {@code MallocExtension_ReleaseFreeMemory}, jemalloc's purge of all arenas, or glibc's {@code malloc_trim}.
     * Returns the one it called, or "none" where no such symbol is in the process.
     */
    public static String releaseFreeMemory() {
        NativeLibrary process = NativeLibrary.getProcess();
        try {
            process.getFunction("MallocExtension_ReleaseFreeMemory").invokeVoid(new Object[0]);
            return "MallocExtension_ReleaseFreeMemory";
        } catch (UnsatisfiedLinkError notTcmalloc) {
            // not tcmalloc: the next
        }
        try {
            // 4096 is MALLCTL_ARENAS_ALL.
            process.getFunction("mallctl").invokeInt(new Object[] {"arena.4096.purge", null, null, null, 0L});
            return "mallctl arena.4096.purge";
        } catch (UnsatisfiedLinkError notJemalloc) {
            // not jemalloc: the next
        }
        try {
            process.getFunction("malloc_trim").invokeInt(new Object[] {0L});
            return "malloc_trim";
        } catch (UnsatisfiedLinkError none) {
            return "none";
        }
    }

    /**
     * Bytes/s of writing 256 MB into pages new to the process (a fresh shared-memory mapping), then into the same
     * pages again: {fresh, reused}. A VM that hands freed memory back to its host (free page reporting) makes the
     * first far slower than the second, and then every buffer an allocator takes from the kernel anew costs that.
     */
    public static double[] pageFill() throws IOException {
        Path shm = Path.of("/dev/shm");
        long n = 256L << 20;
        Path dir = Files.isDirectory(shm) && Files.getFileStore(shm).getUsableSpace() > 2 * n
                ? shm
                : Path.of(System.getProperty("java.io.tmpdir"));
        fill(ByteBuffer.allocateDirect(1 << 20)); // the loop compiled before it is timed
        Path file = Files.createTempFile(dir, "katmesh-pages", ".bin");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer pages = ch.map(FileChannel.MapMode.READ_WRITE, 0, n);
            double[] rates = new double[2];
            for (int pass = 0; pass < 2; pass++) {
                long t0 = System.nanoTime();
                fill(pages);
                rates[pass] = n / ((System.nanoTime() - t0) / 1e9);
            }
            return rates;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void fill(ByteBuffer b) {
        for (int i = 0; i + 8 <= b.capacity(); i += 8) {
            b.putLong(i, i);
        }
    }

    /** Rounded to two decimals, for JSON reports. */
    public static double round(double x) {
        return Math.round(x * 100) / 100.0;
    }

    /**
     * Peak memory of a measured piece of work, above the level before it: the Java heap's (its pools' peaks) and the
     * process's resident set (Linux: VmHWM after clear_refs 5; left out where that is not possible).
     */
    public static final class Memory {
        private final List<MemoryPoolMXBean> heap;
        private final long heapBefore;
        private final long rssBefore;

        private Memory() {
            System.gc();
            heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                    .filter(p -> p.getType() == MemoryType.HEAP)
                    .toList();
            heap.forEach(MemoryPoolMXBean::resetPeakUsage);
            heapBefore = heap.stream().mapToLong(p -> p.getUsage().getUsed()).sum();
            rssBefore = resetPeakRss();
        }

        /** Starts measuring from now. */
        public static Memory start() {
            return new Memory();
        }

        /** Puts heap_peak_above_before_mb and rss_peak_above_before_mb into {@code r}. */
        public void report(ObjectNode r) {
            long heapPeak =
                    heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
            r.put("heap_peak_above_before_mb", round((heapPeak - heapBefore) / 1048576.0));
            if (rssBefore > 0) {
                r.put("rss_peak_above_before_mb", round((status("VmHWM:") - rssBefore) / 1048576.0));
            }
        }

        /** The process's resident set now (Linux: VmRSS; 0 where unknown). */
        public static long residentBytes() {
            return status("VmRSS:");
        }

        /** The process's peak resident set since the last {@link #start} (Linux: VmHWM; 0 where unknown). */
        public static long residentPeakBytes() {
            return status("VmHWM:");
        }

        private static long resetPeakRss() {
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
                return status("VmRSS:");
            } catch (Exception e) {
                return 0;
            }
        }

        /** Another process's peak resident set over its life (Linux: VmHWM; 0 where unknown or gone). */
        public static long residentPeakBytes(long pid) {
            return status(Path.of("/proc", Long.toString(pid), "status"), "VmHWM:");
        }

        private static long status(String field) {
            return status(Path.of("/proc/self/status"), field);
        }

        private static long status(Path file, String field) {
            try {
                for (String line : Files.readAllLines(file)) {
                    if (line.startsWith(field)) {
                        return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                    }
                }
            } catch (Exception e) {
                return 0;
            }
            return 0;
        }
    }
}
