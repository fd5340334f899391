package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Asks a service's SmallRye Health endpoint whether it is UP (liveness and readiness together). */
public final class HealthProbe {

    private static final HttpClient HTTP = MeshHttp.client(Duration.ofSeconds(2));

    private HealthProbe() {}

    /** "UP" when {@code base}/q/health answers 200, else "DOWN" (including when nothing listens). */
    static String health(String base) {
        try {
            HttpResponse<String> r = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + "/q/health"))
                            .timeout(Duration.ofSeconds(5))
                            .GET()
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 && r.body().contains("\"UP\"") ? "UP" : "DOWN";
        } catch (IOException e) {
            return "DOWN";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "DOWN";
        }
    }
}
