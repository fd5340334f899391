package dev.katmesh.inference;

import dev.katmesh.policy.ContinuousBatcher;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** Why a request failed, with its HTTP status, OpenAI error type and code, and gRPC status. */
enum ServingError {
    INVALID_REQUEST(400, "invalid_request_error", "invalid_request", Status.Code.INVALID_ARGUMENT),
    CONTEXT_LENGTH_EXCEEDED(400, "invalid_request_error", "context_length_exceeded", Status.Code.INVALID_ARGUMENT),
    UNAUTHENTICATED(401, "invalid_request_error", "invalid_api_key", Status.Code.UNAUTHENTICATED),
    NOT_FOUND(404, "invalid_request_error", "not_found", Status.Code.NOT_FOUND),
    MODEL_NOT_FOUND(404, "invalid_request_error", "model_not_found", Status.Code.NOT_FOUND),
    METHOD_NOT_ALLOWED(405, "invalid_request_error", "method_not_allowed", Status.Code.UNIMPLEMENTED),
    OVERLOADED(429, "rate_limit_error", "overloaded", Status.Code.RESOURCE_EXHAUSTED),
    /** An agent over its own quota (AgentQuotas), while the server may have room for others. */
    RATE_LIMITED(429, "rate_limit_error", "rate_limit_exceeded", Status.Code.RESOURCE_EXHAUSTED),
    CANCELLED(499, "server_error", "cancelled", Status.Code.CANCELLED),
    INTERNAL(500, "server_error", "internal_error", Status.Code.INTERNAL),
    NO_MODEL(503, "server_error", "no_model", Status.Code.UNAVAILABLE),
    DEADLINE_EXCEEDED(504, "server_error", "deadline_exceeded", Status.Code.DEADLINE_EXCEEDED);

    final int http;
    final String type;
    final String code;
    final Status.Code grpc;

    ServingError(int http, String type, String code, Status.Code grpc) {
        this.http = http;
        this.type = type;
        this.code = code;
        this.grpc = grpc;
    }

    static ServingError of(ContinuousBatcher.Refusal r) {
        return switch (r) {
            case QUEUE_FULL -> OVERLOADED;
            case TOO_LONG -> CONTEXT_LENGTH_EXCEEDED;
            case INVALID -> INVALID_REQUEST;
            case CLOSED -> NO_MODEL;
        };
    }

    static ServingError of(ContinuousBatcher.Finish f) {
        return switch (f) {
            case DEADLINE -> DEADLINE_EXCEEDED;
            case CANCELLED -> CANCELLED;
            default -> INTERNAL;
        };
    }

    /** A failure with this reason; {@code param} names the offending request field (or null). */
    ServingException with(String message, String param) {
        return new ServingException(this, message, param, 0);
    }

    /** As {@link #with(String, String)}, telling the client to retry after {@code retryAfterSeconds}. */
    ServingException with(String message, String param, long retryAfterSeconds) {
        return new ServingException(this, message, param, retryAfterSeconds);
    }

    /** The exception of any failure: serving errors as they are, refusals and missing models mapped. */
    static ServingException from(Throwable t) {
        return from(t, null);
    }

    /**
     * As {@link #from(Throwable)}, a prompt too long for the context naming {@code promptField} ("messages",
     * "prompt") as its param, as OpenAI's error does.
     */
    static ServingException from(Throwable t, String promptField) {
        if (t instanceof ServingException s) {
            return s;
        }
        if (t instanceof ContinuousBatcher.RefusedException r) {
            ServingError e = of(r.reason());
            return e.with(r.getMessage(), e == CONTEXT_LENGTH_EXCEEDED ? promptField : null);
        }
        if (t instanceof PolicyServer.NoModelException) {
            return NO_MODEL.with(t.getMessage(), null);
        }
        if (t instanceof IllegalArgumentException) {
            return INVALID_REQUEST.with(t.getMessage(), null);
        }
        return INTERNAL.with(String.valueOf(t), null);
    }

    /** A request failure carrying its reason. */
    static final class ServingException extends RuntimeException {
        final ServingError error;
        final String param;
        /** Seconds after which a retry may succeed (Retry-After); 0 when not known. */
        final long retryAfterSeconds;

        ServingException(ServingError error, String message, String param, long retryAfterSeconds) {
            super(message);
            this.error = error;
            this.param = param;
            this.retryAfterSeconds = retryAfterSeconds;
        }

        StatusRuntimeException grpc() {
            return Status.fromCode(error.grpc).withDescription(getMessage()).asRuntimeException();
        }
    }
}
