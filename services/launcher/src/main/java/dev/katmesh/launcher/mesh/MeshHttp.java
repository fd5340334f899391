package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The launcher's HTTP clients to the mesh's services. A secure mesh serves HTTPS with a certificate of its own CA
 * ({@link MeshTls}); these clients trust the JDK's CAs and every mesh CA named with {@link #trust(Path)}.
 */
public final class MeshHttp {

    private static final Map<String, X509Certificate> MESH_CAS = new LinkedHashMap<>();
    private static volatile X509ExtendedTrustManager trust = trustManager(null);
    private static final SSLContext CONTEXT = context();

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
                .sslContext(CONTEXT)
                .build();
    }

    /** Trusts a mesh's CA (a PEM certificate) in every client of this process, made before or after. */
    public static synchronized void trust(Path caPem) {
        try {
            X509Certificate ca = MeshTls.certificate(caPem);
            String key = ca.getSubjectX500Principal().getName() + "/" + ca.getSerialNumber();
            if (MESH_CAS.putIfAbsent(key, ca) == null) {
                KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
                store.load(null, null);
                int i = 0;
                for (X509Certificate c : MESH_CAS.values()) {
                    store.setCertificateEntry("mesh-ca-" + i++, c);
                }
                trust = trustManager(store);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the mesh's CA " + caPem, e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust the mesh's CA " + caPem + ": " + e.getMessage(), e);
        }
    }

    private static X509ExtendedTrustManager trustManager(KeyStore store) {
        try {
            TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            f.init(store);
            for (TrustManager m : f.getTrustManagers()) {
                if (m instanceof X509ExtendedTrustManager x) {
                    return x;
                }
            }
            throw new IllegalStateException("the JDK has no X509 trust manager");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SSLContext context() {
        X509ExtendedTrustManager jdk = trust;
        try {
            SSLContext c = SSLContext.getInstance("TLS");
            c.init(null, new TrustManager[] {new Combined(jdk)}, null);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The JDK's CAs, then the mesh CAs trusted so far (read at each handshake, so later ones count). */
    private static final class Combined extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager jdk;

        Combined(X509ExtendedTrustManager jdk) {
            this.jdk = jdk;
        }

        private interface Check {
            void run(X509ExtendedTrustManager m) throws CertificateException;
        }

        private void either(Check check) throws CertificateException {
            try {
                check.run(jdk);
            } catch (CertificateException e) {
                X509ExtendedTrustManager mesh = trust;
                if (mesh == jdk) {
                    throw e;
                }
                check.run(mesh);
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, Socket socket)
                throws CertificateException {
            either(m -> m.checkServerTrusted(chain, auth, socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth, SSLEngine engine)
                throws CertificateException {
            either(m -> m.checkServerTrusted(chain, auth, engine));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            either(m -> m.checkServerTrusted(chain, auth));
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, Socket socket)
                throws CertificateException {
            throw new CertificateException("a client does not check clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a client does not check clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String auth) throws CertificateException {
            throw new CertificateException("a client does not check clients");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return jdk.getAcceptedIssuers();
        }
    }
}
