package dev.katmesh.learner;

import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;
import java.util.List;

/**
 * GET /katmesh/ledger: the {@link TrainingLedger} as JSON lines (one per published version), what
 * {@code ./katmesh audit} reconciles with the topics. Empty before the first version.
 */
@Path("/katmesh/ledger")
public class LedgerResource {

    @Inject
    TrainingLoop loop;

    @GET
    @Produces("application/x-ndjson")
    public Response ledger() {
        TrainingLedger ledger = loop.ledger();
        List<TrainingLedger.Entry> entries = ledger == null ? List.of() : ledger.entries(); // a consistent snapshot
        StreamingOutput body = out -> {
            for (TrainingLedger.Entry e : entries) {
                out.write(TrainingLedger.line(e));
            }
        };
        return Response.ok(body).build();
    }
}
