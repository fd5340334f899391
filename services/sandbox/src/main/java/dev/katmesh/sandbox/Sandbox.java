package dev.katmesh.sandbox;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Runs untrusted commands in an isolated workspace. */
public interface Sandbox {

    /**
     * Runs {@code command} with {@code workspace} as its working directory (mounted at /workspace) and
     * returns its verdict. The workspace is the only place it can write that outlives the run.
     */
    SandboxResult run(List<String> command, Path workspace, SandboxLimits limits)
            throws IOException, InterruptedException;
}
