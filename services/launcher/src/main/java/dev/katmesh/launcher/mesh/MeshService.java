package dev.katmesh.launcher.mesh;

import java.util.Locale;

/** The four services of the mesh, as the launcher starts them. */
public enum MeshService {
    INFERENCE(true, false, "768m"),
    ROLLOUT(false, true, "384m"),
    REWARD(false, true, "384m"),
    LEARNER(true, false, "1g");

    private final boolean grpc;
    private final boolean scalable;
    private final String heap;

    MeshService(boolean grpc, boolean scalable, String heap) {
        this.grpc = grpc;
        this.scalable = scalable;
        this.heap = heap;
    }

    /**
     * Whether the launcher runs several instances of it ({@code up --instances}). Rollout and reward are workers
     * of a consumer group (katmesh-rollout on katmesh.tasks, katmesh-reward on the trajectory topics): Kafka
     * shares their partitions among the instances and moves a dead one's to the others. Inference's clients
     * address one endpoint and the learner is one trainer, so each runs once here (the chart scales inference
     * behind a Service).
     */
    public boolean scalable() {
        return scalable;
    }

    /** Whether the service serves gRPC on a port of its own. */
    public boolean hasGrpc() {
        return grpc;
    }

    /** Default maximum heap (-Xmx); KATMESH_&lt;NAME&gt;_HEAP overrides it. */
    public String heap() {
        String override = System.getenv("KATMESH_" + name() + "_HEAP");
        return override == null || override.isBlank() ? heap : override;
    }

    /** The lower-case name used on the command line, in status and in module paths. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static MeshService of(String id) {
        for (MeshService s : values()) {
            if (s.id().equals(id)) {
                return s;
            }
        }
        throw new IllegalArgumentException(
                "unknown service '" + id + "' (expected inference, rollout, reward or learner)");
    }
}
