package dev.katmesh.proto.json;

/**
 * A JSON trajectory that cannot be mapped to the protobuf contract. The message names the JSON path
 * of the fault, e.g. {@code $.messages[2].role: expected a string, got a number}.
 */
public final class TrajectoryJsonException extends Exception {

    /** What is wrong; consumers map it to their own rejection reasons. */
    public enum Kind {
        /** Not parseable JSON (syntax error, truncated, duplicate key, too deep). */
        MALFORMED_JSON,
        /** A field holds the wrong JSON type. */
        WRONG_TYPE,
        /** A required field is absent or empty. */
        MISSING_FIELD,
        /** A field has the right type but a value outside its domain (negative id, unknown enum). */
        INVALID_VALUE,
        /** A string that is not valid Unicode (an unpaired surrogate): it has no UTF-8 encoding. */
        INVALID_TEXT
    }

    private final Kind kind;
    private final String path;

    public TrajectoryJsonException(Kind kind, String path, String detail) {
        super(path + ": " + detail);
        this.kind = kind;
        this.path = path;
    }

    public Kind kind() {
        return kind;
    }

    /** The JSON path of the fault ({@code $} for the whole document). */
    public String path() {
        return path;
    }
}
