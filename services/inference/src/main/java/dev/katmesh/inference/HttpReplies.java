package dev.katmesh.inference;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/** What every HTTP protocol of inference shares: reading a JSON body, writing a JSON reply. */
final class HttpReplies {

    /** Strict: trailing text after the JSON value is a 400, not silently ignored. */
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private HttpReplies() {}

    /** The request's JSON body; a missing or malformed one is an INVALID_REQUEST saying why. */
    static JsonNode body(RoutingContext ctx) {
        if (ctx.body() == null || ctx.body().length() == 0) {
            throw ServingError.INVALID_REQUEST.with("the request has no body (a JSON object is expected)", null);
        }
        try {
            return JSON.readTree(ctx.body().buffer().getBytes());
        } catch (Exception e) {
            throw ServingError.INVALID_REQUEST.with(
                    "the body is not valid JSON: "
                            + String.valueOf(e.getMessage()).lines().findFirst().orElse(""),
                    null);
        }
    }

    /** Ends the response with {@code body} as JSON, unless the client is gone or it already ended. */
    static void json(HttpServerResponse response, int status, JsonNode body) {
        if (!response.closed() && !response.ended()) {
            response.setStatusCode(status)
                    .putHeader("Content-Type", "application/json")
                    .end(body.toString());
        }
    }

    /** Whether an error response can still be written (nothing was sent yet, the client is there). */
    static boolean writable(HttpServerResponse response) {
        if (response.ended() || response.closed()) {
            return false;
        }
        if (response.headWritten()) {
            response.end();
            return false;
        }
        return true;
    }
}
