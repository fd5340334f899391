package dev.katmesh.learner;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * The Weights service serves the policy itself, so it accepts only inference's credential
 * (katmesh.learner.weights-tokens, metadata {@code authorization: Bearer <token>}); anything else is
 * UNAUTHENTICATED before a byte is read. Health and reflection stay open for probes.
 */
@GlobalInterceptor
@ApplicationScoped
public class WeightsAuthInterceptor implements ServerInterceptor {

    private static final Logger LOG = Logger.getLogger(WeightsAuthInterceptor.class);

    static final String SERVICE = "katmesh.v1.Weights";
    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    @Inject
    LearnerSettings settings;

    private final List<byte[]> accepted = new ArrayList<>();

    @PostConstruct
    void load() {
        for (String t : settings.weightsTokens().orElse(List.of())) {
            if (!t.isBlank()) {
                accepted.add(sha256(t.trim()));
            }
        }
        if (accepted.isEmpty()) {
            LOG.warn("no katmesh.learner.weights-tokens: every caller may fetch the policy's weights");
        }
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        if (SERVICE.equals(call.getMethodDescriptor().getServiceName()) && !allowed(headers.get(AUTHORIZATION))) {
            call.close(
                    Status.UNAUTHENTICATED.withDescription(
                            "the Weights service accepts only inference's credential (metadata 'authorization: Bearer <weights token>')"),
                    new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }

    boolean allowed(String authorization) {
        if (accepted.isEmpty()) {
            return true;
        }
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] presented = sha256(authorization.substring(7).trim());
        boolean ok = false;
        for (byte[] a : accepted) {
            ok |= MessageDigest.isEqual(a, presented); // constant time, and no early exit
        }
        return ok;
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
