package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.proto.json.AtifJson;
import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.wire.ScoredLogReader;
import dev.katmesh.proto.wire.ScoredRange;
import dev.katmesh.proto.wire.Topics;
import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./katmesh export}: a range of the scored log written as JSONL in a public format, for other RL stacks and
 * for curriculum stages ({@code sources: [{file: ...}]} reads both formats back). The file appears whole or not at
 * all (written beside it, then moved).
 */
@Command(
        name = "export",
        description = "Writes a range of katmesh.trajectories.scored as JSONL: OpenAI chat with token ids, log-probs,"
                + " versions, rewards and masks as extra fields (openai), or ATIF-v1.7 trajectories (atif).")
public final class ExportCommand implements Callable<Integer> {

    @CommandLine.Mixin
    Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

    @Option(names = "--format", defaultValue = "openai", description = "openai (default) or atif.")
    String format;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The JSONL file to write.")
    Path out;

    @Option(
            names = "--from",
            paramLabel = "TIME",
            description = "Records at or after this time (ISO-8601 or epoch ms).")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "Records before this time (ISO-8601 or epoch ms).")
    String to;

    @Option(names = "--partition", defaultValue = "-1", description = "Only this partition (default: all).")
    int partition;

    @Option(names = "--from-offset", defaultValue = "0", description = "From this offset of each partition read.")
    long fromOffset;

    @Option(names = "--to-offset", defaultValue = "" + Long.MAX_VALUE, description = "Before this offset.")
    long toOffset;

    @Option(names = "--source", description = "deployed or rollout (default: both).")
    String source;

    @Option(names = "--agent", description = "Only this agent id's trajectories.")
    String agent;

    @Option(names = "--task-prefix", description = "Only trajectories whose task id starts with this.")
    String taskPrefix;

    @Option(names = "--min-reward", defaultValue = "NaN", description = "Only rewards at least this.")
    double minReward;

    @Option(names = "--max-reward", defaultValue = "NaN", description = "Only rewards at most this.")
    double maxReward;

    @Option(names = "--json", description = "Print the summary as one JSON object (default: indented).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("openai") && !format.equals("atif")) {
            throw new IllegalArgumentException("--format is openai or atif, not " + format);
        }
        ScoredRange range = new ScoredRange(
                ScoredRange.time(from, Long.MIN_VALUE),
                ScoredRange.time(to, Long.MAX_VALUE),
                partition,
                fromOffset,
                toOffset,
                source,
                agent,
                taskPrefix,
                minReward,
                maxReward);
        MeshSupervisor supervisor = mesh.supervisor();
        if (!supervisor.status().path("kafka").path("health").asText().equals("UP")) {
            System.err.println("export: the mesh's broker is not running (./katmesh up)");
            return 2;
        }
        Path target = out.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        ScoredLogReader.Summary summary;
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(partial))) {
            summary = ScoredLogReader.read(supervisor.kafkaClients().properties(), range, (s, p, offset) -> {
                if (s != null) {
                    o.write(format.equals("atif") ? AtifJson.write(s) : ScoredJson.write(s));
                    o.write('\n');
                }
                return true;
            });
        } catch (Exception e) {
            Files.deleteIfExists(partial);
            throw e;
        }
        Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        ObjectNode result = new ObjectMapper().createObjectNode();
        result.put("topic", Topics.SCORED);
        result.put("format", format.equals("atif") ? AtifJson.VERSION : "openai-chat-jsonl");
        result.put("out", target.toString());
        result.put("records_in_range", summary.read());
        result.put("exported", summary.selected());
        result.put("unreadable", summary.unreadable());
        ObjectNode parts = result.putObject("offsets");
        summary.offsets()
                .forEach((p, r) -> parts.putArray(Integer.toString(p)).add(r[0]).add(r[1]));
        System.out.println(json ? result.toString() : Katmesh.pretty(result));
        return 0;
    }
}
