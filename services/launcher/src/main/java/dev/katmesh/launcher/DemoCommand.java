package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import dev.katmesh.launcher.demo.DemoPlan;
import dev.katmesh.launcher.demo.DemoReport;
import dev.katmesh.launcher.demo.DemoRun;
import dev.katmesh.launcher.demo.DemoSetup;
import dev.katmesh.launcher.mesh.ApiKey;
import dev.katmesh.launcher.mesh.MeshLayout;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.tasks.TaskSuite;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: the KAT-Coder curriculum end to end on the embedded mesh. It makes its own data and
 * model ({@link DemoSetup}), starts a fresh mesh with the learner on that curriculum, drives it to the
 * end ({@link DemoRun}: rollout tasks during RFT, deployed agents during adaptation), writes the report
 * ({@link DemoReport}) and stops the mesh. Exit code 0 when the held-out pass rate rose from the first
 * to the last version beyond both 95% intervals (--quick only reports it); 1 otherwise (the report says by
 * how much either way). With --model it trains the user's checkpoint in a short plan ({@link DemoPlan#forModel}).
 */
@Command(
        name = "demo",
        description = "The main job: the whole curriculum (mid-term, SFT, RFT, deployment "
                + "adaptation) on the embedded mesh; writes report/ and stops by itself.")
public final class DemoCommand implements Callable<Integer> {

    @CommandLine.Mixin
    Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

    @Option(names = "--quick", description = "A few-minute version (what CI runs).")
    boolean quick;

    @Option(
            names = "--model",
            paramLabel = "DIR",
            description =
                    "Train this checkpoint (a Hugging Face folder with its tokenizer) instead of a fresh model:"
                            + " SFT, RFT and adaptation, each a few steps (LoRA above 100M parameters); the folder is only read.")
    Path model;

    @Option(names = "--keep", description = "Leave the mesh running at the end.")
    boolean keep;

    @Option(names = "--report", paramLabel = "DIR", description = "Where the report goes (default: <checkout>/report).")
    Path report;

    @Option(names = "--tasks", paramLabel = "N", description = "Tasks to generate (about a tenth held out).")
    Integer tasks;

    @Option(names = "--sft-steps", paramLabel = "N")
    Integer sftSteps;

    @Option(names = "--rft-steps", paramLabel = "N")
    Integer rftSteps;

    @Option(
            names = "--rft-arm",
            paramLabel = "ARM",
            description = "Compare a variant of RFT with GRPO's: stage rft-ARM runs from the SFT checkpoint, then rft"
                    + " from that same checkpoint, alike but for the variant; the report sets their validation and"
                    + " held-out pass rates side by side (advantage-shaping, rollout-supervision).")
    String rftArm;

    @Option(
            names = "--tree-budgets",
            paramLabel = "TOKENS",
            split = ",",
            description = "Compare tree budgets on the captured sessions: the deployed agents sample each answer twice,"
                    + " and after adaptation its sessions are replayed from RFT's last version once per budget"
                    + " (tokens a session tree keeps; 0: unpruned); the report sets training time and pass rates side"
                    + " by side.")
    List<Integer> treeBudgets;

    @Option(
            names = "--samples-per-turn",
            paramLabel = "N",
            description = "Answers each deployed agent samples a turn, going on from the last (default: 2 with"
                    + " --tree-budgets, else 1): more make bigger session trees.")
    Integer samplesPerTurn;

    @Option(
            names = "--families",
            paramLabel = "NAMES",
            description = "The task families, comma-separated, or 'all' (default: the pipelines; --quick: all).")
    String families;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Option(
            names = "--max-minutes",
            paramLabel = "M",
            description = "Give up after this long (default 60, --quick 25).")
    Integer maxMinutes;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            defaultValue = "240",
            description = "How long the mesh may take to start.")
    int timeout;

    @Option(
            names = "--secure",
            description =
                    "Run on a secure-mode mesh (TLS on every listener, SASL/SCRAM users with ACLs on the broker; see `up --secure`).")
    boolean secure;

    @Override
    public Integer call() throws Exception {
        if (model != null && !Files.isRegularFile(model.resolve("config.json"))) {
            System.err.println("demo: --model " + model + ": no config.json there (a Hugging Face checkpoint folder)");
            return 2;
        }
        if (treeBudgets != null && model != null) {
            System.err.println("demo: --tree-budgets starts each replay from RFT's full version; with --model the"
                    + " learner trains LoRA adapters");
            return 2;
        }
        if (rftArm != null && model != null) {
            System.err.println("demo: --rft-arm starts two RFT stages from one full SFT version; with --model the"
                    + " learner trains LoRA adapters");
            return 2;
        }
        DemoPlan plan;
        try {
            plan = (model != null ? DemoPlan.forModel() : quick ? DemoPlan.quick() : DemoPlan.standard())
                    .with(
                            sftSteps,
                            rftSteps,
                            tasks,
                            seed,
                            families == null ? null : familyList(families),
                            rftArm,
                            treeBudgets)
                    .withSamplesPerTurn(samplesPerTurn);
        } catch (IllegalArgumentException e) {
            System.err.println("demo: " + e.getMessage());
            return 2;
        }
        try {
            new TaskSuite(plan.seed(), plan.families());
        } catch (IllegalArgumentException e) {
            System.err.println("demo: --families: " + e.getMessage());
            return 2;
        }
        Path home = MeshLayout.defaultHome();
        Path dataDir = mesh.dataDir != null
                ? mesh.dataDir
                : MeshLayout.defaultDataDir(home).resolve("demo");
        MeshSupervisor supervisor = new MeshSupervisor(new MeshLayout(home, dataDir), System.out);
        // A fresh mesh each run: the learner starts from the new model, not from an older run's checkpoints.
        // Only a mesh's data directory, an earlier demo's, or an empty folder is ever emptied.
        if (Files.exists(dataDir.resolve("mesh.json"))) {
            supervisor.down();
        } else if (Files.isDirectory(dataDir) && !Files.isDirectory(dataDir.resolve("run"))) {
            try (Stream<Path> entries = Files.list(dataDir)) {
                if (entries.findAny().isPresent()) {
                    System.err.println("demo: " + dataDir
                            + " is not empty and holds no mesh (no mesh.json); choose another --data-dir");
                    return 2;
                }
            }
        }
        MeshLayout.deleteTree(dataDir);
        Path reportDir = report != null ? report : home.resolve("report");
        long t0 = System.nanoTime();
        System.out.printf(
                Locale.ROOT,
                "katmesh main job%s: %d tasks of %s, SFT %d steps, RFT %d steps; mesh data in %s%n",
                quick ? " (--quick)" : "",
                plan.tasks(),
                plan.families().isEmpty() ? "every family" : String.join(", ", plan.families()),
                plan.sftSteps(),
                plan.rftSteps(),
                dataDir);
        DemoSetup.Prepared prepared = DemoSetup.prepare(plan, dataDir.resolve("run"), model);
        System.out.printf(
                Locale.ROOT,
                "made %d training tasks (%d validation, %d held out), %d teacher trajectories, a %d-document code corpus"
                        + "%s in %.0f s; %s%n",
                prepared.train().size(),
                prepared.validationCount(),
                prepared.heldoutCount(),
                prepared.sft(),
                prepared.corpusDocuments(),
                model != null
                        ? String.format(
                                Locale.ROOT,
                                "; the model is %s (%,d parameters, a vocabulary of %d)",
                                model,
                                prepared.parameters(),
                                prepared.vocab())
                        : String.format(
                                Locale.ROOT,
                                ", a tokenizer of %d tokens and a %,d-parameter model",
                                prepared.vocab(),
                                prepared.parameters()),
                (System.nanoTime() - t0) / 1e9,
                prepared.overlap().summary());
        supervisor.up(
                Duration.ofSeconds(timeout),
                prepared.model(),
                plan.serviceSettings(
                        prepared.curriculum().toString(), prepared.validation() + "," + prepared.heldout()),
                Map.of(),
                secure);
        // Ctrl-C or SIGTERM skips the finally below (the JVM runs only shutdown hooks): without this hook an
        // interrupted main job left its broker and four services running.
        Thread stopOnSignal = new Thread(
                () -> {
                    try {
                        System.out.println("interrupted; stopping the mesh: " + supervisor.down());
                    } catch (IOException | InterruptedException e) {
                        System.err.println("demo: stopping the mesh failed (./katmesh down stops it): " + e);
                    }
                },
                "demo-down");
        if (!keep) {
            Runtime.getRuntime().addShutdownHook(stopOnSignal);
        }
        try {
            JsonNode status = supervisor.status();
            String key = ApiKey.resolve(supervisor.layout()).key();
            System.out.println("curriculum: " + (plan.midtermSteps() > 0 ? "midterm → " : "")
                    + "sft → " + (plan.rftArm() != null ? "rft-" + plan.rftArm() + " | " : "")
                    + "rft → adapt"
                    + (plan.treeBudgets().isEmpty()
                            ? ""
                            : " → replays of adapt with tree budgets " + plan.treeBudgets() + " (0: none)")
                    + "; live dashboard: "
                    + status.path("services").path("learner").path("http").asText() + "/dashboard/");
            DemoRun.Outcome run = new DemoRun(plan, prepared, status, supervisor.kafkaClients(), key, System.out)
                    .run(Duration.ofMinutes(maxMinutes != null ? maxMinutes : quick ? 25 : 60));
            DemoReport.Summary s = DemoReport.write(reportDir, plan, prepared, run);
            System.out.printf(
                    Locale.ROOT,
                    "held-out pass rate: v%d %s → v%d %s%n",
                    s.first().version(),
                    s.first().heldout(),
                    s.last().version(),
                    s.last().heldout());
            System.out.printf(
                    Locale.ROOT,
                    "RFT v%d against SFT v%d: validation %s, held out %s%n",
                    s.rft().version(),
                    s.sft().version(),
                    DemoReport.diff(s.rftMinusSftValidation()),
                    DemoReport.diff(s.rftMinusSftHeldout()));
            if (s.armStage() != null) {
                System.out.printf(
                        Locale.ROOT,
                        "%s v%d against RFT v%d, both from SFT v%d: validation %s, held out %s%n",
                        s.armStage(),
                        s.arm().version(),
                        s.rft().version(),
                        s.sft().version(),
                        DemoReport.diff(s.armMinusRftValidation()),
                        DemoReport.diff(s.armMinusRftHeldout()));
            }
            StringBuilder families = new StringBuilder();
            DemoReport.byFamily(
                            run.finalProgress().path("policy_versions"),
                            s.sft().version(),
                            s.rft().version())
                    .fields()
                    .forEachRemaining(f -> families.append(families.isEmpty() ? "" : " · ")
                            .append(f.getKey())
                            .append(' ')
                            .append(f.getValue().path("sft_passed").asInt())
                            .append(" → ")
                            .append(f.getValue().path("rft_passed").asInt())
                            .append('/')
                            .append(f.getValue().path("total").asInt()));
            if (!families.isEmpty()) {
                System.out.println("held-out tasks passed by family, SFT → RFT: " + families);
            }
            String memory = DemoReport.memory(run.peakResidentBytes());
            if (!memory.isEmpty()) {
                System.out.println(memory.strip());
            }
            System.out.println("report: " + reportDir.resolve("report.html") + " (and report.json, *.png)");
            if (!run.complete()) {
                System.out.println("demo: " + run.why() + "; see ./katmesh logs learner --data-dir " + dataDir);
                return 1;
            }
            // The one verdict: the final version above the base beyond both 95% intervals. RFT against SFT is
            // reported with its interval, not gated on: at this scale it is a measurement, not a promise.
            // --quick (CI) evaluates ~12 held-out tasks, too few for any interval to exclude anything: it reports.
            if (!s.rose() && !quick) {
                System.out.println(
                        "demo: the final version's held-out pass rate is not above the base's beyond their 95% intervals");
                return 1;
            }
            return 0;
        } finally {
            if (!keep) {
                Runtime.getRuntime().removeShutdownHook(stopOnSignal);
                System.out.println("stopping the mesh: " + supervisor.down());
            }
        }
    }

    /** "all" for every family (an empty list), else the names given. */
    static List<String> familyList(String names) {
        return names.strip().equals("all")
                ? List.of()
                : Stream.of(names.split(","))
                        .map(String::strip)
                        .filter(n -> !n.isEmpty())
                        .toList();
    }
}
