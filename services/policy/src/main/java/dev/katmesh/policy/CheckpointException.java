package dev.katmesh.policy;

import java.nio.file.Path;

/** A checkpoint folder that cannot be loaded; the message names the file and the problem. */
public final class CheckpointException extends RuntimeException {

    public CheckpointException(Path file, String problem) {
        super(file + ": " + problem);
    }

    public CheckpointException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
    }
}
