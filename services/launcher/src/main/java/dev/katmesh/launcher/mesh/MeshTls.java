package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Secure mode's TLS material: a certificate authority of the mesh's own and the one certificate its broker and
 * services serve (every process of the embedded mesh listens on 127.0.0.1), all PEM in
 * {@code <data-dir>/secrets}. Clients trust {@link #ca()}: the launcher, the services' clients of each other,
 * and agents (the path is in {@code ./katmesh status}).
 *
 * <p>DESIGN: the CA is made once and kept (ten years), so agents configured with it keep working across
 * restarts; the server certificate (one year) is made again at an {@code up} that finds it missing, unreadable
 * or within {@link #RENEW_BEFORE} of its end. RSA-2048 keys and SHA-256 signatures, because every client this
 * mesh has (Java, Netty, Node's OpenSSL, librdkafka) takes them. Keys are PKCS#8, unencrypted, owner-only:
 * the broker, Vert.x and Netty all read that form from a file.
 */
public final class MeshTls {

    /** Names the server certificate carries: what clients of the embedded mesh connect to. */
    static final List<String> HOSTS = List.of("localhost", "127.0.0.1");

    static final Duration CA_VALIDITY = Duration.ofDays(3650);
    static final Duration SERVER_VALIDITY = Duration.ofDays(365);
    static final Duration RENEW_BEFORE = Duration.ofDays(30);

    private final Path dir;

    private MeshTls(Path dir) {
        this.dir = dir;
    }

    /** The material of this data dir, without making any. */
    static MeshTls of(MeshLayout layout) {
        return new MeshTls(Secrets.dir(layout));
    }

    /** The CA certificate clients trust (PEM). */
    public Path ca() {
        return dir.resolve("ca.pem");
    }

    Path caKey() {
        return dir.resolve("ca-key.pem");
    }

    /** The certificate the services serve, followed by the CA's (PEM). */
    public Path serverChain() {
        return dir.resolve("server.pem");
    }

    /** The server certificate's private key (PKCS#8 PEM, owner-only). */
    public Path serverKey() {
        return dir.resolve("server-key.pem");
    }

    /** The broker's key store: key and chain in one file, the form Kafka's PEM key store reads. */
    public Path brokerKeyStore() {
        return dir.resolve("broker.pem");
    }

    /**
     * The system properties with which a secure mesh's service serves HTTPS only (on its one HTTP port) and TLS on
     * gRPC with the server certificate, and its gRPC client of another service trusts the CA.
     */
    List<String> serviceFlags(MeshService s, int httpPort, Integer grpcPort) {
        List<String> flags = new ArrayList<>(List.of(
                "-Dquarkus.http.ssl-port=" + httpPort,
                "-Dquarkus.http.insecure-requests=disabled",
                "-Dquarkus.tls.key-store.pem.mesh.cert=" + serverChain(),
                "-Dquarkus.tls.key-store.pem.mesh.key=" + serverKey()));
        if (grpcPort != null) {
            flags.add("-Dquarkus.grpc.server.plain-text=false");
            flags.add("-Dquarkus.grpc.server.ssl.certificate=" + serverChain());
            flags.add("-Dquarkus.grpc.server.ssl.key=" + serverKey());
        }
        String client = switch (s) {
            case INFERENCE -> "weights";
            case ROLLOUT -> "inference";
            default -> null;
        };
        if (client != null) {
            flags.add("-Dquarkus.grpc.clients." + client + ".plain-text=false");
            flags.add("-Dquarkus.grpc.clients." + client + ".ssl.trust-store=" + ca());
        }
        return flags;
    }

    /** Makes the mesh's CA if missing, and the server certificate if missing or near its end. */
    static MeshTls ensure(MeshLayout layout) {
        return ensure(Secrets.dir(layout));
    }

    /** As {@link #ensure(MeshLayout)}, in any folder (another CA, for a test that wants one). */
    public static MeshTls ensure(Path dir) {
        MeshTls tls = new MeshTls(dir);
        try {
            tls.ensureFiles();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make the mesh's TLS certificates in " + tls.dir, e);
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make the mesh's TLS certificates: " + e.getMessage(), e);
        }
        return tls;
    }

    private void ensureFiles() throws IOException, GeneralSecurityException, OperatorCreationException {
        if (!Files.isRegularFile(ca()) || !Files.isRegularFile(caKey())) {
            KeyPair kp = rsa();
            // A name of its own: a client trusting the CAs of several meshes tells them apart.
            X500Name name =
                    new X500Name("CN=katmesh mesh CA " + Secrets.token("").substring(0, 12) + ",O=katmesh");
            X509v3CertificateBuilder b = builder(name, name, kp.getPublic(), CA_VALIDITY);
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(
                    Extension.subjectKeyIdentifier,
                    false,
                    new JcaX509ExtensionUtils().createSubjectKeyIdentifier(kp.getPublic()));
            Secrets.write(caKey(), pem("PRIVATE KEY", kp.getPrivate().getEncoded()));
            Secrets.write(ca(), pem("CERTIFICATE", sign(b, kp.getPrivate()).getEncoded()));
            Files.deleteIfExists(serverChain()); // signed by a CA that is gone
        }
        if (serverValid()) {
            return;
        }
        X509Certificate ca = certificate(ca());
        PrivateKey caKey = privateKey(caKey());
        KeyPair kp = rsa();
        X509v3CertificateBuilder b = builder(
                X500Name.getInstance(ca.getSubjectX500Principal().getEncoded()),
                new X500Name("CN=katmesh,O=katmesh"),
                kp.getPublic(),
                SERVER_VALIDITY);
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
            KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth
        }));
        b.addExtension(
                Extension.subjectAlternativeName,
                false,
                new GeneralNames(HOSTS.stream()
                        .map(h -> new GeneralName(
                                Character.isDigit(h.charAt(0)) ? GeneralName.iPAddress : GeneralName.dNSName, h))
                        .toArray(GeneralName[]::new)));
        b.addExtension(
                Extension.authorityKeyIdentifier, false, new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(ca));
        String key = pem("PRIVATE KEY", kp.getPrivate().getEncoded());
        String chain = pem("CERTIFICATE", sign(b, caKey).getEncoded()) + Files.readString(ca());
        Secrets.write(serverKey(), key);
        Secrets.write(brokerKeyStore(), key + chain);
        Secrets.write(serverChain(), chain);
    }

    /** Whether the server certificate exists, was signed by the current CA and is not near its end. */
    private boolean serverValid() {
        try {
            if (!Files.isRegularFile(serverChain()) || !Files.isRegularFile(serverKey())) {
                return false;
            }
            X509Certificate server = certificate(serverChain());
            server.verify(certificate(ca()).getPublicKey());
            return server.getNotAfter().toInstant().isAfter(Instant.now().plus(RENEW_BEFORE));
        } catch (IOException | GeneralSecurityException e) {
            return false;
        }
    }

    private static X509v3CertificateBuilder builder(
            X500Name issuer, X500Name subject, PublicKey key, Duration validity) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(
                issuer,
                new BigInteger(128, new SecureRandom()),
                Date.from(now.minus(Duration.ofHours(1))), // clocks a little apart
                Date.from(now.plus(validity)),
                subject,
                key);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey issuerKey)
            throws OperatorCreationException, GeneralSecurityException {
        return new JcaX509CertificateConverter()
                .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withRSA").build(issuerKey)));
    }

    private static KeyPair rsa() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        return g.generateKeyPair();
    }

    /** The first certificate of a PEM file. */
    static X509Certificate certificate(Path pem) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    private static PrivateKey privateKey(Path pem) throws IOException, GeneralSecurityException {
        String text = Files.readString(pem)
                .replace("-----BEGIN PRIVATE KEY-----", "")
                .replace("-----END PRIVATE KEY-----", "")
                .replaceAll("\\s", "");
        return KeyFactory.getInstance("RSA")
                .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(text)));
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
