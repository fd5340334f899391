package dev.katmesh.inference;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

/**
 * Requires an API key ({@code authorization: Bearer <key>}) on katmesh.v1.Inference calls when keys
 * are configured. The standard health and reflection services stay open: probes carry no keys.
 */
@GlobalInterceptor
@ApplicationScoped
public class GrpcAuthInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    @Inject
    ApiKeys keys;

    @Inject
    ServingMetrics metrics;

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String service = call.getMethodDescriptor().getServiceName();
        if (service != null
                && service.startsWith("katmesh.")
                && keys.agent(headers.get(AUTHORIZATION)).isEmpty()) {
            metrics.request(InferenceEndpoint.API, ServingError.UNAUTHENTICATED.code);
            call.close(
                    Status.UNAUTHENTICATED.withDescription(
                            "a valid API key is required (metadata 'authorization: Bearer <key>')"),
                    new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
    }
}
