package dev.katmesh.policy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Whether a model's weights fit the memory this process may still use, checked before loading, so that a model
 * too large for its pod or machine is refused at start with the figures instead of being killed mid-load by the
 * kernel. The memory it may use is the smaller of the kernel's MemAvailable and what the cgroup's limit leaves.
 */
public final class MemoryBudget {

    /** Bytes of a float32 parameter: the precision weights are resident in (bf16 is slower on CPUs, see docs). */
    static final long BYTES_PER_PARAMETER = 4;

    private MemoryBudget() {}

    /** Refuses a model whose float32 weights would not fit what this process may still use. */
    static void require(Path dir, ModelConfig config) {
        require(dir, config, available());
    }

    /** As above, against a given amount of memory (the kernel's figure, or a test's). */
    static void require(Path dir, ModelConfig config, OptionalLong available) {
        long need = weightBytes(config);
        if (available.isPresent() && need > available.getAsLong()) {
            throw new CheckpointException(
                    dir,
                    String.format(
                            "the model needs %.2f GB for its float32 weights but this process may use only %.2f GB"
                                    + " more (the smaller of MemAvailable and the cgroup's memory limit); give it more"
                                    + " memory or serve a smaller model",
                            need / 1e9, available.getAsLong() / 1e9));
        }
    }

    /** Bytes of a model's float32 weights. */
    public static long weightBytes(ModelConfig config) {
        return config.parameterCount() * BYTES_PER_PARAMETER;
    }

    /** Bytes of one position of a KV cache: keys and values of every layer, float32. */
    public static long kvBytesPerToken(ModelConfig config) {
        return 2L * config.numLayers() * config.numKvHeads() * config.headDim() * BYTES_PER_PARAMETER;
    }

    /** Bytes this process may still allocate, when the kernel says. */
    public static OptionalLong available() {
        OptionalLong memAvailable = memInfo("MemAvailable:");
        OptionalLong limit = number(Path.of("/sys/fs/cgroup/memory.max"));
        OptionalLong used = number(Path.of("/sys/fs/cgroup/memory.current"));
        if (limit.isEmpty()) {
            limit = number(Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
            used = number(Path.of("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
        }
        OptionalLong cgroup = limit.isPresent() && used.isPresent() && limit.getAsLong() < Long.MAX_VALUE / 2
                ? OptionalLong.of(Math.max(0, limit.getAsLong() - used.getAsLong()))
                : OptionalLong.empty();
        if (memAvailable.isPresent() && cgroup.isPresent()) {
            return OptionalLong.of(Math.min(memAvailable.getAsLong(), cgroup.getAsLong()));
        }
        return memAvailable.isPresent() ? memAvailable : cgroup;
    }

    private static OptionalLong memInfo(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(field)) {
                    return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Not Linux, or not readable: no check rather than a wrong one.
        }
        return OptionalLong.empty();
    }

    private static OptionalLong number(Path file) {
        try {
            return OptionalLong.of(Long.parseLong(Files.readString(file).strip()));
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty(); // absent, or "max"
        }
    }
}
