package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The supervisor of a running mesh: a small process of its own, started by {@code up} and stopped first by
 * {@code down}, that restarts a service whose process died without {@code down} (a crash, an out-of-memory exit,
 * a kill) and counts the restarts in mesh.json, where {@code status} shows them. What the chart's liveness probes
 * and Kubernetes' restart policy do for the pods.
 *
 * <p>DESIGN. A death is acted on after a delay: 5 s for the first, doubling for a service that keeps dying, up to 80
 * s (a crash loop backs off rather than spinning), and reset once the service has stayed up for 5 minutes. The delay
 * also leaves a deliberate {@code ./katmesh restart} right after a kill (as the fault tests do) to the operator: it
 * takes the state lock first, and the watch then finds the service alive. The restart itself runs under the
 * launcher's state lock, so it never interleaves with {@code up}, {@code down} or {@code restart}.
 */
public final class ServiceWatch {

    static final Duration FIRST_DELAY = Duration.ofSeconds(5);
    static final int MAX_DOUBLINGS = 4;
    static final Duration STABLE = Duration.ofMinutes(5);
    static final Duration POLL = Duration.ofSeconds(1);

    private final MeshSupervisor supervisor;
    private final Map<ServiceInstance, Long> deadSince = new HashMap<>();
    private final Map<ServiceInstance, Integer> streak = new HashMap<>();

    private ServiceWatch(MeshSupervisor supervisor) {
        this.supervisor = supervisor;
    }

    /** Starts the supervisor process of the mesh in {@code layout}; its log is logs/supervisor.log. */
    static MeshState.Proc start(MeshLayout layout) throws IOException {
        List<String> cmd = List.of(
                ManagedProcess.javaBinary(),
                "-Xmx64m",
                "-XX:+UseSerialGC",
                "-Dkatmesh.home=" + layout.home(),
                "-cp",
                layout.launcherClasspath(),
                "dev.katmesh.launcher.Katmesh",
                "supervise",
                "--data-dir",
                layout.dataDir().toString());
        return ManagedProcess.start(cmd, layout.logFile("supervisor"), layout.dataDir());
    }

    /**
     * Watches until {@code down} stops this process or another supervisor replaces it (the state names another pid);
     * run by {@code ./katmesh supervise}.
     */
    public static void run(MeshSupervisor supervisor) throws IOException, InterruptedException {
        new ServiceWatch(supervisor).loop();
    }

    private void loop() throws IOException, InterruptedException {
        long self = ProcessHandle.current().pid();
        while (true) {
            MeshState state = MeshState.load(supervisor.layout().stateFile());
            if (state.supervisor == null || state.supervisor.pid == null || state.supervisor.pid != self) {
                return;
            }
            long now = System.currentTimeMillis();
            for (ServiceInstance s : state.instances()) {
                MeshState.Proc p = state.service(s);
                if (p == null || p.pid == null) { // never started, or stopped by down
                    deadSince.remove(s);
                } else if (ManagedProcess.isAlive(p)) {
                    deadSince.remove(s);
                    if (p.startedAtMs != null && now - p.startedAtMs > STABLE.toMillis()) {
                        streak.remove(s);
                    }
                } else {
                    long since = deadSince.computeIfAbsent(s, k -> now);
                    int n = streak.getOrDefault(s, 0);
                    if (now - since >= FIRST_DELAY.toMillis() << Math.min(n, MAX_DOUBLINGS)) {
                        supervisor.recover(s);
                        streak.put(s, n + 1);
                        deadSince.remove(s);
                    }
                }
            }
            Thread.sleep(POLL.toMillis());
        }
    }
}
