package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README's first command, as a user runs it: it starts the mesh, runs the job and stops by itself. */
class DemoIT {

    @Test
    void theDemoRunsTheFirstFlowAndStopsTheMeshItStarted() throws Exception {
        Path dir = Mesh.HOME.resolve("integration-tests/target/meshes/demo");
        Mesh.deleteRecursively(dir);
        Mesh mesh = Mesh.at(dir, Map.of());
        String out = mesh.katmesh(Duration.ofMinutes(6), "demo");
        assertTrue(out.contains("4 trajectories scored and received by the learner, 2 bad records dead-lettered"), out);
        assertTrue(out.contains("TRUNCATED_PROTOBUF") && out.contains("MALFORMED_JSON"), "the demo shows the dead-letter reasons:\n" + out);
        assertFalse(mesh.status().path("kafka").path("health").asText().equals("UP"), "the demo stops the mesh it started");
    }
}
