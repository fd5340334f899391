package dev.katmesh.learner;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/** GET /katmesh/progress: the learner's live progress and per-version history (see {@link LearnerProgress}). */
@Path("/katmesh/progress")
public class ProgressResource {

    @Inject
    TrainingLoop loop;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public ObjectNode progress() {
        return loop.progress().snapshot();
    }
}
