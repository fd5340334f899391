package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads a counter from a service's Prometheus endpoint (/q/metrics). */
public final class PrometheusScrape {

    private static final HttpClient HTTP = MeshHttp.client(Duration.ofSeconds(2));

    private PrometheusScrape() {}

    /**
     * The sum of the series of {@code name} whose labels contain {@code labelFilter} (e.g.
     * {@code reason="OVERSIZED"}; null for all series); 0 when there is none yet.
     */
    public static double sum(String httpBase, String name, String labelFilter)
            throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(httpBase + "/q/metrics"))
                .timeout(Duration.ofSeconds(5))
                .build();
        HttpResponse<String> r;
        try {
            r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            // A scrape is idempotent: one retry on a fresh attempt rides over a pooled connection the
            // server had closed; a service that is down fails again and the caller sees that.
            r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        }
        if (r.statusCode() != 200) {
            throw new IOException(httpBase + "/q/metrics answered " + r.statusCode());
        }
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})?\\s+(\\S+)$")
                .matcher(r.body());
        double sum = 0;
        while (m.find()) {
            if (labelFilter == null || (m.group(1) != null && m.group(1).contains(labelFilter))) {
                sum += Double.parseDouble(m.group(2));
            }
        }
        return sum;
    }
}
