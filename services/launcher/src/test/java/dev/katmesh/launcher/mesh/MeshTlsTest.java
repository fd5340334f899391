package dev.katmesh.launcher.mesh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MeshTlsTest {

    @Test
    void theCaIsKeptAndTheServerCertificateNamesTheLoopbackAndChainsToIt(@TempDir Path dir) throws Exception {
        MeshTls tls = MeshTls.ensure(dir);
        X509Certificate ca = MeshTls.certificate(tls.ca());
        X509Certificate server = MeshTls.certificate(tls.serverChain());
        server.verify(ca.getPublicKey());
        assertEquals(0, ca.getBasicConstraints(), "the CA may sign server certificates only");
        assertEquals(-1, server.getBasicConstraints(), "the server certificate is no CA");
        List<String> names = server.getSubjectAlternativeNames().stream()
                .map(n -> String.valueOf(n.get(1)))
                .toList();
        assertEquals(MeshTls.HOSTS, names);
        assertTrue(server.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"), "server auth");
        assertTrue(server.getNotAfter().toInstant().isAfter(Instant.now().plus(Duration.ofDays(300))), "a year's life");
        for (Path secret : List.of(tls.caKey(), tls.serverKey(), tls.brokerKeyStore())) {
            assertEquals(
                    "rw-------",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(secret)),
                    secret.toString());
        }
        String broker = Files.readString(tls.brokerKeyStore());
        assertTrue(
                broker.startsWith("-----BEGIN PRIVATE KEY-----") && broker.split("BEGIN CERTIFICATE").length == 3,
                "Kafka's PEM key store: the key, then the chain");

        byte[] caBefore = Files.readAllBytes(tls.ca());
        byte[] serverBefore = Files.readAllBytes(tls.serverChain());
        MeshTls.ensure(dir);
        assertEquals(new String(caBefore), Files.readString(tls.ca()), "agents configured with the CA keep working");
        assertEquals(new String(serverBefore), Files.readString(tls.serverChain()), "a valid certificate is kept");

        Files.delete(tls.serverChain());
        MeshTls.ensure(dir);
        assertEquals(new String(caBefore), Files.readString(tls.ca()));
        MeshTls.certificate(tls.serverChain()).verify(ca.getPublicKey());
        assertNotEquals(new String(serverBefore), Files.readString(tls.serverChain()), "a missing one is made again");

        // A server certificate that the current CA did not sign (the CA was replaced) is made again.
        Files.delete(tls.ca());
        MeshTls.ensure(dir);
        X509Certificate newCa = MeshTls.certificate(tls.ca());
        assertNotEquals(ca, newCa);
        MeshTls.certificate(tls.serverChain()).verify(newCa.getPublicKey());
    }

    @Test
    void theLaunchersHttpClientsTrustAMeshCaNamedAfterTheyWereMade(@TempDir Path dir) throws Exception {
        MeshTls tls = MeshTls.ensure(dir.resolve("mesh"));
        MeshTls other = MeshTls.ensure(dir.resolve("other"));
        HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(serverContext(tls)));
        server.createContext("/q/health", x -> {
            byte[] body = "{\"status\":\"UP\"}".getBytes(StandardCharsets.UTF_8);
            x.sendResponseHeaders(200, body.length);
            x.getResponseBody().write(body);
            x.close();
        });
        server.start();
        try {
            HttpClient client = MeshHttp.client(Duration.ofSeconds(5));
            HttpRequest get = HttpRequest.newBuilder(URI.create(
                            "https://127.0.0.1:" + server.getAddress().getPort() + "/q/health"))
                    .build();
            IOException refused =
                    assertThrows(IOException.class, () -> client.send(get, HttpResponse.BodyHandlers.ofString()));
            assertInstanceOf(SSLHandshakeException.class, refused, "the JDK's CAs do not know the mesh's");
            MeshHttp.trust(other.ca());
            assertThrows(
                    IOException.class,
                    () -> client.send(get, HttpResponse.BodyHandlers.ofString()),
                    "another mesh's CA is not this one's");
            MeshHttp.trust(tls.ca());
            assertEquals(
                    200, client.send(get, HttpResponse.BodyHandlers.ofString()).statusCode());
            assertEquals(
                    "UP",
                    HealthProbe.health(
                            "https://127.0.0.1:" + server.getAddress().getPort()));
            assertEquals(
                    "DOWN",
                    HealthProbe.health("http://127.0.0.1:" + server.getAddress().getPort()),
                    "plain HTTP to an HTTPS port is no answer");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aServiceServesOnlyTlsAndItsClientOfAnotherServiceTrustsTheCa(@TempDir Path dir) {
        MeshTls tls = MeshTls.ensure(dir);
        List<String> inference = tls.serviceFlags(MeshService.INFERENCE, 8081, 9081);
        assertTrue(inference.contains("-Dquarkus.http.ssl-port=8081"), inference.toString());
        assertTrue(inference.contains("-Dquarkus.http.insecure-requests=disabled"), "no plain HTTP port");
        assertTrue(inference.contains("-Dquarkus.grpc.server.plain-text=false"), inference.toString());
        assertTrue(
                inference.contains("-Dquarkus.grpc.clients.weights.ssl.trust-store=" + tls.ca()),
                "inference checks the learner's Weights service: " + inference);
        List<String> reward = tls.serviceFlags(MeshService.REWARD, 8082, null);
        assertTrue(reward.stream().noneMatch(f -> f.contains("grpc")), "no gRPC server or client: " + reward);
    }

    /** An SSLContext serving the mesh's server certificate, as Vert.x and Netty serve it from the same files. */
    static SSLContext serverContext(MeshTls tls) throws Exception {
        String pem = Files.readString(tls.serverKey())
                .replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "")
                .replaceAll("\\s", "");
        PrivateKey key = KeyFactory.getInstance("RSA")
                .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(pem)));
        Certificate[] chain;
        try (var in = Files.newInputStream(tls.serverChain())) {
            chain = CertificateFactory.getInstance("X.509")
                    .generateCertificates(in)
                    .toArray(Certificate[]::new);
        }
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("server", key, new char[0], chain);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, new char[0]);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(kmf.getKeyManagers(), null, null);
        return c;
    }
}
