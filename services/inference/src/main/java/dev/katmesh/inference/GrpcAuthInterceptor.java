package dev.katmesh.inference;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.Optional;

/**
 * Requires an API key ({@code authorization: Bearer <key>}) on katmesh.v1.Inference calls when keys
 * are configured, and puts the agent it names in the call's context ({@link #AGENT}) for its quota. The standard
 * health and reflection services stay open: probes carry no keys.
 */
@GlobalInterceptor
@ApplicationScoped
public class GrpcAuthInterceptor implements ServerInterceptor {

    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** The agent the call's key names (ApiKeys.ANONYMOUS when no keys are configured). */
    static final Context.Key<String> AGENT = Context.key("katmesh-agent");

    @Inject
    ApiKeys keys;

    @Inject
    ServingMetrics metrics;

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        String service = call.getMethodDescriptor().getServiceName();
        if (service == null || !service.startsWith("katmesh.")) {
            return next.startCall(call, headers);
        }
        Optional<String> agent = keys.agent(headers.get(AUTHORIZATION));
        if (agent.isEmpty()) {
            metrics.request(InferenceEndpoint.API, ServingError.UNAUTHENTICATED.code);
            call.close(
                    Status.UNAUTHENTICATED.withDescription(
                            "a valid API key is required (metadata 'authorization: Bearer <key>')"),
                    new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return Contexts.interceptCall(Context.current().withValue(AGENT, agent.get()), call, headers, next);
    }
}
