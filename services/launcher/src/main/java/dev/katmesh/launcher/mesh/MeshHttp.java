package dev.katmesh.launcher.mesh;

import java.net.http.HttpClient;
import java.time.Duration;

/** The launcher's HTTP clients to the mesh's services. */
public final class MeshHttp {

    private MeshHttp() {}

    /**
     * An HTTP/1.1 client. The JDK's default (HTTP/2) offers every plain-text connection an h2c upgrade,
     * and a Vert.x server may answer an upgraded request on a pooled connection with a close (one CI run
     * saw "EOF reached while reading" on a metrics scrape); the services speak HTTP/1.1 to their agents
     * anyway, so the launcher does too.
     */
    public static HttpClient client(Duration connectTimeout) {
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(connectTimeout)
                .build();
    }
}
