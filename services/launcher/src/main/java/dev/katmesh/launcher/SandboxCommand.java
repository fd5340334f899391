package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.sandbox.BubblewrapSandbox;
import dev.katmesh.sandbox.SandboxLimits;
import dev.katmesh.sandbox.SandboxResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `./katmesh sandbox run ... -- CMD ARGS`: one command in the local sandbox, its verdict as JSON. */
@Command(
        name = "sandbox",
        description = "Runs untrusted commands in the sandbox.",
        subcommands = {SandboxCommand.Run.class})
public final class SandboxCommand {

    @Command(
            name = "run",
            description = "Runs CMD in the bubblewrap sandbox; prints "
                    + "{\"verdict\":...,\"exit_code\":...,\"stdout\":...,\"stderr\":...,\"wall_ms\":...}.")
    static final class Run implements Callable<Integer> {
        @Option(
                names = "--timeout",
                paramLabel = "S",
                defaultValue = "30",
                description = "Wall-time limit in seconds (default ${DEFAULT-VALUE}).")
        long timeout;

        @Option(
                names = "--memory",
                paramLabel = "MB",
                defaultValue = "1024",
                description = "Address-space limit in MiB (default ${DEFAULT-VALUE}).")
        long memoryMb;

        @Option(
                names = "--max-output",
                paramLabel = "BYTES",
                defaultValue = "1048576",
                description = "Cap of stdout and of stderr.")
        int maxOutput;

        @Option(
                names = "--workspace",
                paramLabel = "DIR",
                description = "The workspace (kept); default: a fresh temporary one, deleted after.")
        Path workspace;

        @Parameters(paramLabel = "CMD", arity = "1..*", description = "The command and its arguments (after --).")
        List<String> command;

        @Override
        public Integer call() throws Exception {
            Path ws = workspace != null ? workspace : Files.createTempDirectory("katmesh-sandbox");
            try {
                SandboxLimits limits = SandboxLimits.defaults()
                        .withWallTime(Duration.ofSeconds(timeout))
                        .withMemoryBytes(memoryMb << 20)
                        .withMaxOutputBytes(maxOutput);
                SandboxResult r = new BubblewrapSandbox().run(command, ws, limits);
                ObjectNode o = new ObjectMapper().createObjectNode();
                o.put("verdict", r.verdict().label());
                o.put("exit_code", r.exitCode());
                o.put("stdout", r.stdout());
                o.put("stderr", r.stderr());
                o.put("wall_ms", r.wallMs());
                o.put("output_truncated", r.outputTruncated());
                System.out.println(o);
                return 0;
            } finally {
                if (workspace == null) {
                    try (var walk = Files.walk(ws)) {
                        walk.sorted(Comparator.reverseOrder())
                                .forEach(p -> p.toFile().delete());
                    }
                }
            }
        }
    }
}
