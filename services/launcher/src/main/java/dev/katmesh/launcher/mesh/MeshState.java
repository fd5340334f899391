package dev.katmesh.launcher.mesh;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the launcher knows about a mesh, kept in {@code <data-dir>/mesh.json}: the ports chosen at the
 * first {@code up} (reused afterwards, so clients and the broker's metadata stay valid) and the
 * processes running now. Written atomically (temp file + rename): a crash never leaves half a file.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class MeshState {

    /** A process the launcher started: its ports and, while it runs, its pid and start time. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static final class Proc {
        public int port;
        public Integer grpcPort;
        public Integer controllerPort;
        public Long pid;
        /** Start time of the process (epoch ms), to tell it from a later process with the same pid. */
        public Long startedAtMs;
        /** Times the supervisor restarted the process after it died without `down` (null: never). */
        public Integer restarts;
        /** When the supervisor last found it dead (epoch ms). */
        public Long lastCrashAtMs;
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public String clusterId;
    /**
     * Secure mode ({@code up --secure}): the broker takes SASL/SCRAM users with ACLs only
     * ({@link KafkaAccess}). Chosen at the first start, kept afterwards.
     */
    public boolean secure;
    /** The policy checkpoint folder the learner starts from and inference serves ({@code up --model}); null for none. */
    public String model;
    /**
     * Settings of each service (system properties, e.g. katmesh.learner.curriculum) given to {@code up}
     * by the main job; kept so a restart of one service gets the same ones.
     */
    public Map<String, Map<String, String>> settings = new TreeMap<>();
    /**
     * CPUs per process ("kafka" or a service id → a taskset list such as "0" or "0-1"), given to {@code up
     * --cpus}; a process without an entry runs on every CPU. Kept so a restart pins the same way.
     */
    public Map<String, String> cpus = new TreeMap<>();

    /**
     * Instances of a scalable service (service id → count; absent: one), given to {@code up --instances}. Kept so
     * later starts and the supervisor keep that many running.
     */
    public Map<String, Integer> instances = new TreeMap<>();

    /**
     * Feedback senders (sender → the globs of the agent ids it may rate, comma-separated), given to {@code up
     * --feedback-sender}: each but "shared" gets its own topic (and, in secure mode, user); the reward is told their
     * scopes. Kept for later starts.
     */
    public Map<String, String> feedbackSenders = new TreeMap<>();

    public Proc kafka;
    public Map<String, Proc> services = new TreeMap<>();
    /** The supervisor process ({@link ServiceWatch}) while the mesh is up. */
    public Proc supervisor;

    public static MeshState load(Path file) {
        if (!Files.exists(file)) {
            return new MeshState();
        }
        try {
            return JSON.readValue(file.toFile(), MeshState.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the mesh state " + file + ": " + e.getMessage(), e);
        }
    }

    public void save(Path file) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            JSON.writeValue(tmp.toFile(), this);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the mesh state " + file + ": " + e.getMessage(), e);
        }
    }

    /** The first (or only) instance of a service. */
    public Proc service(MeshService s) {
        return services.get(s.id());
    }

    public Proc service(ServiceInstance i) {
        return services.get(i.id());
    }

    /** How many instances of the service the mesh runs. */
    public int instanceCount(MeshService s) {
        return instances.getOrDefault(s.id(), 1);
    }

    /** Every instance the mesh runs, service by service in start order. */
    public List<ServiceInstance> instances() {
        List<ServiceInstance> all = new ArrayList<>();
        for (MeshService s : MeshService.values()) {
            all.addAll(ServiceInstance.of(s, instanceCount(s)));
        }
        return all;
    }
}
