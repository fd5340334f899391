package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.demo.TaskFiles;
import dev.katmesh.tasks.TaskSuite;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `./katmesh tasks generate`: the built-in task suite as JSONL (and on katmesh.tasks), with the teacher's SFT data. */
@Command(
        name = "tasks",
        description = "The built-in task suite.",
        subcommands = {TasksCommand.Generate.class})
public final class TasksCommand {

    @Command(
            name = "generate",
            description = "Writes tasks-train.jsonl, tasks-validation.jsonl, tasks-heldout.jsonl and the teacher's "
                    + "sft.jsonl (training tasks only); --publish sends the tasks to katmesh.tasks.")
    static final class Generate implements Callable<Integer> {
        @CommandLine.Mixin
        Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--count", defaultValue = "120", description = "Tasks to generate (default ${DEFAULT-VALUE}).")
        int count;

        @Option(names = "--seed", defaultValue = "1")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(
                names = "--mistakes",
                defaultValue = "0.3",
                description = "Share of teacher trajectories with a recoverable mistake.")
        double mistakes;

        @Option(
                names = "--families",
                split = ",",
                paramLabel = "NAME",
                description = "Only these task families, comma-separated (default: all; an unknown name lists them).")
        List<String> families = List.of();

        @Option(
                names = "--no-teacher",
                description = "Only the tasks (the teacher runs every solution in the sandbox).")
        boolean noTeacher;

        @Option(names = "--publish", description = "Also publish the tasks to katmesh.tasks of the running mesh.")
        boolean publish;

        @Override
        public Integer call() throws Exception {
            TaskFiles.Written w = TaskFiles.write(out, seed, families, count, noTeacher ? -1 : mistakes);
            int published = 0;
            if (publish) {
                published = TaskFiles.publish(
                        mesh.supervisor().kafkaClients(),
                        w.tasks().stream().map(TaskSuite.Generated::task).toList());
            }
            int train = w.train();
            int heldout = w.heldout();
            int sft = w.sft();
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("train", train);
            o.put("validation", w.validation());
            o.put("heldout", heldout);
            o.put("sft", sft);
            o.put("published", published);
            o.put("out", out.toAbsolutePath().toString());
            System.out.println(o);
            return 0;
        }
    }
}
