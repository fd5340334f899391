package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.wire.DropReason;
import dev.katmesh.proto.wire.Topics;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * The learner's beans in one Quarkus application, without a broker or a model (count-only mode): what an operator
 * and a dashboard see before the first record.
 */
@QuarkusTest
class LearnerServiceTest {

    @TestHTTPResource("/")
    URI root;

    static final HttpClient HTTP = HttpClient.newHttpClient();

    String get(String path) throws Exception {
        HttpResponse<String> r =
                HTTP.send(HttpRequest.newBuilder(root.resolve(path)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), path + ": " + r.body());
        return r.body();
    }

    @Test
    void everyDropReasonAndSourceIsAMetricAtZeroBeforeTheFirstRecord() throws Exception {
        String metrics = get("q/metrics");
        for (DropReason r : DropReason.values()) {
            assertTrue(
                    metrics.contains("katmesh_learner_trajectories_dropped_total{reason=\"" + r.tag() + "\"} 0.0"),
                    "dropped by " + r.tag() + " at zero");
        }
        for (String s : Topics.SOURCE_TAGS) {
            assertTrue(
                    metrics.contains("katmesh_learner_trajectories_received_total{source=\"" + s + "\"} 0.0"),
                    "received from " + s);
        }
        assertTrue(metrics.contains("katmesh_learner_policy_version -1.0"), "no version without a model");
    }

    @Test
    void withoutAModelTheLearnerSaysSoAndServesItsProgressAndLedger() throws Exception {
        String health = get("q/health/live");
        assertTrue(health.contains("count-only"), health);
        String progress = get("katmesh/progress");
        assertTrue(progress.startsWith("{"), progress);
        assertEquals("", get("katmesh/ledger"), "no version, no ledger line");
    }
}
