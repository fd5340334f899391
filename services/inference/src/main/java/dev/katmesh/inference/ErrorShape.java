package dev.katmesh.inference;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.http.HttpServerResponse;

/**
 * How each HTTP protocol writes a {@link ServingError}: its status code and JSON body, so that a client's SDK
 * parses the failure as its own API's (OpenAI: {@code {"error":{"message","type","param","code"}}}; Anthropic:
 * {@code {"type":"error","error":{"type","message"}}}).
 */
enum ErrorShape {
    /** Chat completions, completions and Responses. */
    OPENAI {
        @Override
        ObjectNode body(ServingError.ServingException e) {
            ObjectNode root = HttpReplies.JSON.createObjectNode();
            ObjectNode err =
                    root.putObject("error").put("message", e.getMessage()).put("type", e.error.type);
            if (e.param == null) {
                err.putNull("param");
            } else {
                err.put("param", e.param);
            }
            err.put("code", e.error.code);
            return root;
        }

        @Override
        int status(ServingError e) {
            return e.http;
        }
    },
    /** Messages. The error types are Anthropic's; a field's name leads the message (its errors carry no param). */
    ANTHROPIC {
        @Override
        ObjectNode body(ServingError.ServingException e) {
            ObjectNode root = HttpReplies.JSON.createObjectNode().put("type", "error");
            String message = e.param == null || e.getMessage().startsWith(e.param)
                    ? e.getMessage()
                    : e.param + ": " + e.getMessage();
            root.putObject("error").put("type", anthropicType(e.error)).put("message", message);
            return root;
        }

        @Override
        int status(ServingError e) {
            // 529 is Anthropic's "overloaded" (a full queue is not the client's rate limit); SDKs retry it.
            return e == ServingError.OVERLOADED ? 529 : e.http;
        }

        private String anthropicType(ServingError e) {
            return switch (e) {
                case INVALID_REQUEST, CONTEXT_LENGTH_EXCEEDED, METHOD_NOT_ALLOWED -> "invalid_request_error";
                case UNAUTHENTICATED -> "authentication_error";
                case NOT_FOUND, MODEL_NOT_FOUND -> "not_found_error";
                case OVERLOADED -> "overloaded_error";
                case RATE_LIMITED -> "rate_limit_error";
                case DEADLINE_EXCEEDED -> "timeout_error";
                default -> "api_error";
            };
        }
    };

    abstract ObjectNode body(ServingError.ServingException e);

    abstract int status(ServingError e);

    /** Writes the error response (counted under {@code api}); a response already begun is only ended. */
    void reply(HttpServerResponse response, ServingMetrics metrics, String api, ServingError.ServingException e) {
        metrics.request(api, e.error.code);
        if (!HttpReplies.writable(response)) {
            return;
        }
        if (e.retryAfterSeconds > 0) {
            response.putHeader("Retry-After", Long.toString(e.retryAfterSeconds));
        } else if (e.error == ServingError.OVERLOADED) {
            response.putHeader("Retry-After", "1");
        }
        HttpReplies.json(response, status(e.error), body(e));
    }
}
