package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.katmesh.launcher.mesh.MeshHttp;
import dev.katmesh.launcher.mesh.MeshState;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./katmesh replay}: the running mesh's learner trains a stage on a range of the scored log, from the weights
 * of its latest version. It writes a one-stage curriculum ({@code <data-dir>/replays/NAME.yaml}, its source a
 * {@code replay: {...}} range) and restarts the learner on it; the learner's progress and ledger then show the stage
 * (ending "range"), and each of its versions' ledger entries the offsets it covered. A learner started elsewhere with
 * a new base model replays the same way with that stage in its own curriculum.
 */
@Command(
        name = "replay",
        description = "Trains the running learner on a range of katmesh.trajectories.scored (time, offsets, source,"
                + " agent, task prefix, reward): a one-stage curriculum, each record of the range once.")
public final class ReplayCommand implements Callable<Integer> {

    @CommandLine.Mixin
    Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

    @Option(names = "--stage", description = "The stage's name (default: replay-<time>); names its ledger entries.")
    String stage;

    @Option(names = "--objective", defaultValue = "error_masked_sft", description = "error_masked_sft or sft.")
    String objective;

    @Option(names = "--batch", defaultValue = "8", description = "Records a step.")
    int batch;

    @Option(names = "--steps", description = "At most this many steps (default: until the range ends).")
    Long steps;

    @Option(names = "--method", description = "full or lora (default: the learner's for its model).")
    String method;

    @Option(names = "--learning-rate", description = "The stage's learning rate (default: the learner's).")
    Double learningRate;

    @CommandLine.Mixin
    ScoredRangeOptions range = new ScoredRangeOptions();

    @Override
    public Integer call() throws Exception {
        if (!objective.equals("error_masked_sft") && !objective.equals("sft")) {
            throw new IllegalArgumentException("--objective is error_masked_sft or sft, not " + objective);
        }
        // Checked here as the learner will: a bad range is refused before the learner is touched.
        range.range();
        MeshSupervisor supervisor = mesh.supervisor();
        if (MeshState.load(supervisor.layout().stateFile()).kafka == null) {
            System.err.println("replay: no mesh in " + supervisor.layout().dataDir() + " (`./katmesh up --model DIR`)");
            return 2;
        }
        String opts = System.getenv("KATMESH_LEARNER_OPTS");
        if (opts != null && opts.contains("katmesh.learner.curriculum")) {
            System.err.println("replay: KATMESH_LEARNER_OPTS names a curriculum, which would win over the replay's;"
                    + " run this without it there");
            return 2;
        }
        String name = stage != null ? stage : "replay-" + System.currentTimeMillis();
        Path file = supervisor.layout().dataDir().resolve("replays").resolve(name + ".yaml");
        Files.createDirectories(file.getParent());
        new ObjectMapper(new YAMLFactory()).writeValue(file.toFile(), curriculum(name));
        System.err.println("replay: " + file + "; restarting the learner on it");
        supervisor.restart("learner", Map.of("katmesh.learner.curriculum", file.toString()), Duration.ofMinutes(4));
        if (!learnerRuns(supervisor, name)) {
            System.err.println("replay: the learner did not take the stage within a minute: it trains only with a model"
                    + " (`./katmesh up --model DIR`); see `./katmesh logs learner`");
            return 1;
        }
        System.out.println("{\"stage\":\"" + name + "\",\"curriculum\":\"" + file + "\"}");
        return 0;
    }

    /** Whether the learner's progress lists the stage (its curriculum is the replay's) within a minute. */
    private static boolean learnerRuns(MeshSupervisor supervisor, String stage) throws InterruptedException {
        String base = supervisor
                .status()
                .path("services")
                .path("learner")
                .path("http")
                .asText();
        HttpClient http = MeshHttp.client(Duration.ofSeconds(5));
        long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> r = http.send(
                        HttpRequest.newBuilder(URI.create(base + "/katmesh/progress"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                for (JsonNode s : new ObjectMapper().readTree(r.body()).path("stages")) {
                    if (s.asText().equals(stage)) {
                        return true;
                    }
                }
            } catch (IOException e) {
                // starting: ask again
            }
            Thread.sleep(500);
        }
        return false;
    }

    ObjectNode curriculum(String name) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ObjectNode s = root.putArray("stages").addObject();
        s.put("name", name);
        s.put("objective", objective);
        range.writeReplay(((ArrayNode) s.putArray("sources")).addObject().putObject("replay"));
        s.put("batch", batch);
        if (steps != null) {
            s.put("steps", steps);
        }
        ScoredRangeOptions.putIfSet(s, "method", method);
        if (learningRate != null) {
            s.put("learning_rate", learningRate);
        }
        return root;
    }
}
