package dev.katmesh.launcher.mesh;

import java.util.Locale;

/** The four services of the mesh, as the launcher starts them. */
public enum MeshService {
    INFERENCE(true, "768m"),
    ROLLOUT(false, "384m"),
    REWARD(false, "384m"),
    LEARNER(true, "1g");

    private final boolean grpc;
    private final String heap;

    MeshService(boolean grpc, String heap) {
        this.grpc = grpc;
        this.heap = heap;
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
