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
import java.nio.file.attribute.PosixFilePermissions;
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

    @CommandLine.Mixin
    ScoredRangeOptions range = new ScoredRangeOptions();

    @Option(names = "--json", description = "Print the summary as one JSON object (default: indented).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!format.equals("openai") && !format.equals("atif")) {
            throw new IllegalArgumentException("--format is openai or atif, not " + format);
        }
        ScoredRange selected = range.range();
        MeshSupervisor supervisor = mesh.supervisor();
        if (!supervisor.status().path("kafka").path("health").asText().equals("UP")) {
            System.err.println("export: the mesh's broker is not running (./katmesh up)");
            return 2;
        }
        Path target = out.toAbsolutePath();
        Files.createDirectories(target.getParent());
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        ScoredLogReader.Summary summary;
        Files.deleteIfExists(partial);
        // Owner-only, as the topic's ACLs are: the records hold what agents read and wrote.
        Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(partial))) {
            summary = ScoredLogReader.read(supervisor.kafkaClients().properties(), selected, (s, p, offset) -> {
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
