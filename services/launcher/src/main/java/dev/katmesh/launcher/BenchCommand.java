package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.bench.AsyncBenchmark;
import dev.katmesh.launcher.bench.CaptureBenchmark;
import dev.katmesh.launcher.bench.CopyingBenchmark;
import dev.katmesh.launcher.bench.DecodeBenchmark;
import dev.katmesh.launcher.bench.IngestionBenchmark;
import dev.katmesh.launcher.bench.LongTreeBenchmark;
import dev.katmesh.launcher.bench.OffPolicyBenchmark;
import dev.katmesh.launcher.bench.PartitionMovesBenchmark;
import dev.katmesh.launcher.bench.PrefillBenchmark;
import dev.katmesh.launcher.bench.RealModelBenchmark;
import dev.katmesh.launcher.bench.SecretsBenchmark;
import dev.katmesh.launcher.bench.ServingBenchmark;
import dev.katmesh.launcher.bench.SwapBenchmark;
import dev.katmesh.launcher.bench.TreeBenchmark;
import dev.katmesh.launcher.bench.TreeBudgetBenchmark;
import dev.katmesh.launcher.mesh.MeshLayout;
import dev.katmesh.launcher.mesh.MeshSupervisor;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraSettings;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.training.PolicyLoss;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `./katmesh bench ...`: benchmarks that print ratios measured side by side in one run. */
@Command(
        name = "bench",
        description = "Benchmarks (ratios measured side by side in one run).",
        subcommands = {
            BenchCommand.Decode.class,
            BenchCommand.Prefill.class,
            BenchCommand.RealModel.class,
            BenchCommand.LongTree.class,
            BenchCommand.Tree.class,
            BenchCommand.TreeBudget.class,
            BenchCommand.Inference.class,
            BenchCommand.Swap.class,
            BenchCommand.Ingestion.class,
            BenchCommand.Async.class,
            BenchCommand.Copying.class,
            BenchCommand.Secrets.class,
            BenchCommand.PartitionMoves.class,
            BenchCommand.Capture.class,
            BenchCommand.OffPolicy.class
        })
public final class BenchCommand {

    /** A benchmark of a running mesh. */
    interface MeshBench {
        ObjectNode run(MeshSupervisor mesh) throws Exception;
    }

    /**
     * Runs {@code bench} on a mesh in {@code --data-dir} or {@code <data-dir>/NAME}, started without a model (the
     * learner counts what it receives), and takes the mesh down after.
     */
    static ObjectNode onCountingMesh(Katmesh.MeshOptions options, String name, MeshBench bench) throws Exception {
        Path home = MeshLayout.defaultHome();
        Path dir = options.dataDir != null
                ? options.dataDir
                : MeshLayout.defaultDataDir(home).resolve(name);
        MeshSupervisor supervisor = new MeshSupervisor(new MeshLayout(home, dir), System.err);
        supervisor.up(Duration.ofMinutes(4));
        try {
            return bench.run(supervisor);
        } finally {
            supervisor.down();
        }
    }

    @Command(
            name = "decode",
            description = "Decode tokens/s of a ~11M-parameter model: KV cache vs recompute, batched vs one at a time.")
    static final class Decode implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--contexts", split = ",", defaultValue = "32,128,512")
        int[] contexts;

        @Option(names = "--batches", split = ",", defaultValue = "1,4,16")
        int[] batches;

        @Option(names = "--steps", defaultValue = "32", description = "New tokens per measurement.")
        int steps;

        @Option(
                names = "--repeats",
                defaultValue = "3",
                description = "Measurements per configuration (the median is kept).")
        int repeats;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = DecodeBenchmark.run(PolicyModel.device(device), contexts, batches, steps, repeats);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "prefill",
            description = "Long prompts through the serving engine: time to first token and peak memory, chunked"
                    + " prefill beside one pass, against the KV cache and this process's matmul peak.")
    static final class Prefill implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--lengths", split = ",", defaultValue = "1024,8192,32768")
        int[] lengths;

        @Option(
                names = "--one-pass",
                negatable = true,
                defaultValue = "true",
                description = "Also prefill each prompt in one pass (the peer the chunks are compared with).")
        boolean onePass;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = PrefillBenchmark.run(PolicyModel.device(device), lengths, onePass);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "real-model",
            description = "A checkpoint folder against this machine's limits, in one process: decode tokens/s against"
                    + " the memory-bandwidth bound, prefill and full fine-tuning against the matmul peak (MFU), and a"
                    + " fine-tuning step's peak memory against weights + gradients + AdamW moments.")
    static final class RealModel implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--model",
                required = true,
                paramLabel = "DIR",
                description = "A Hugging Face checkpoint folder.")
        Path model;

        @Option(
                names = "--batches",
                split = ",",
                defaultValue = "1,16",
                description = "Decode batch sizes, each after a 32-token prompt (0: no decode phase).")
        int[] batches;

        @Option(
                names = "--long-context",
                defaultValue = "2048",
                description =
                        "One more decode at batch 1 after a prompt of this many tokens, as agents' are (0: none).")
        int longContext;

        @Option(
                names = "--prefill-tokens",
                defaultValue = "512",
                description = "Prompt of the prefill phase (0: none).")
        int prefillTokens;

        @Option(
                names = "--train-tokens",
                split = ",",
                defaultValue = "16",
                description = "Sequence lengths of the full fine-tuning steps (at 0.6B parameters a 512-token step"
                        + " outgrows 24 GB: docs/benchmarks.md).")
        int[] trainTokens;

        @Option(
                names = "--lora-rank",
                defaultValue = "0",
                description = "Train LoRA adapters of this rank (on every projection, alpha = 2 x rank) on the frozen"
                        + " weights instead of every weight, and compare a LoRA version's sync with a full version's"
                        + " (0: full fine-tuning).")
        int loraRank;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = RealModelBenchmark.run(
                    model,
                    PolicyModel.device(device),
                    batches,
                    longContext,
                    prefillTokens,
                    trainTokens,
                    loraRank > 0 ? LoraSettings.of(loraRank) : null);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "long-tree",
            description = "One training step on a session-shaped tree of N rows: checkpointed pieces beside one plain"
                    + " pass (step time, peak memory).")
    static final class LongTree implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--rows", split = ",", defaultValue = "2048,4096,8192,16384")
        int[] rows;

        @Option(
                names = "--plain-max-rows",
                defaultValue = "8192",
                description = "Also train trees of up to this many rows in one plain pass (the peer the pieces are"
                        + " compared with; its memory grows with rows², 11 GB at 8192).")
        int plainMaxRows;

        @Option(
                names = "--attention-elements",
                defaultValue = "" + PolicyLoss.ATTENTION_ELEMENTS,
                description = "Attention scores one piece may hold (heads × query rows × keys).")
        long elements;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = LongTreeBenchmark.run(PolicyModel.device(device), rows, plainMaxRows, elements);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "tree",
            description = "Training step time of tree-structured vs flat trajectories, with the gradient difference.")
    static final class Tree implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--branches", split = ",", defaultValue = "4,8")
        int[] branches;

        @Option(names = "--shared", split = ",", defaultValue = "0.5,0.9")
        double[] shared;

        @Option(names = "--length", defaultValue = "128", description = "Tokens per trajectory.")
        int length;

        @Option(names = "--repeats", defaultValue = "3")
        int repeats;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = TreeBenchmark.run(PolicyModel.device(device), branches, shared, length, repeats);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "tree-budget",
            description = "Training time of captured session trees pruned to each tree budget, against unpruned, in"
                    + " rounds of turning order: the deployed sessions of an export (./katmesh export --source deployed),"
                    + " each tree one error-masked SFT step of a checkpoint.")
    static final class TreeBudget implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--scored", required = true, paramLabel = "FILE", description = "An export's JSONL.")
        Path scored;

        @Option(names = "--model", required = true, paramLabel = "DIR", description = "A checkpoint folder.")
        Path model;

        @Option(names = "--budgets", split = ",", defaultValue = "0,768,640,512,1", description = "Tokens; 0: none.")
        int[] budgets;

        @Option(names = "--rounds", defaultValue = "5")
        int rounds;

        @Option(names = "--min-reward", defaultValue = "0.5", description = "Sessions scored at least this.")
        double minReward;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = TreeBudgetBenchmark.run(scored, model, budgets, rounds, minReward);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "off-policy",
            description = "Asynchronous RL at staleness 2 and 4 with and without off-policy correction (token TIS,"
                    + " sequence MIS): the learner's reward curve and the behaviour-learner mismatch, side by side.")
    static final class OffPolicy implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--staleness", split = ",", defaultValue = "2,4", description = "Versions behind (η).")
        int[] staleness;

        @Option(names = "--steps", defaultValue = "120", description = "Optimiser steps a run.")
        int steps;

        @Option(names = "--window", defaultValue = "10", description = "Steps between evaluations of the learner.")
        int window;

        @Option(names = "--lr", defaultValue = "0.01", description = "AdamW's learning rate.")
        double lr;

        @Option(names = "--seeds", split = ",", defaultValue = "1,2,3", description = "One run per seed and arm.")
        long[] seeds;

        @Option(names = "--cap", defaultValue = "2", description = "token_tis's truncation cap.")
        double cap;

        @Option(names = "--mis-bounds", split = ",", defaultValue = "0.5,2", description = "sequence_mis's bounds.")
        double[] misBounds;

        @Option(
                names = "--behaviour",
                defaultValue = "bf16",
                description = "The behaviour's weights: bf16 (an inference engine's numerics) or f32.")
        String behaviour;

        @Override
        public Integer call() throws Exception {
            if (window < 1 || steps < 2 * window || misBounds.length != 2) {
                throw new IllegalArgumentException(
                        "--steps must be at least two --window's, and --mis-bounds two numbers (low,high)");
            }
            ObjectNode result = OffPolicyBenchmark.run(
                    staleness,
                    OffPolicyBenchmark.arms(cap, misBounds[0], misBounds[1]),
                    steps,
                    window,
                    lr,
                    seeds,
                    switch (behaviour) {
                        case "bf16" -> true;
                        case "f32" -> false;
                        default -> throw new IllegalArgumentException("--behaviour is bf16 or f32, not " + behaviour);
                    });
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "inference",
            description =
                    "Continuous batching (1, 4, 16 streams vs one at a time, TTFT under load) and a hot swap vs a raw loopback gRPC copy.")
    static final class Inference implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--requests", defaultValue = "16")
        int requests;

        @Option(names = "--prompt-tokens", defaultValue = "32")
        int promptTokens;

        @Option(names = "--new-tokens", defaultValue = "64")
        int newTokens;

        @Option(names = "--streams", split = ",", defaultValue = "1,4,16")
        int[] streams;

        @Option(
                names = "--repeats",
                defaultValue = "3",
                description = "Measurements per configuration (the median is kept).")
        int repeats;

        @Option(names = "--device", defaultValue = "cpu")
        String device;

        @Override
        public Integer call() throws Exception {
            try (DecoderModel model = DecoderModel.random(DecodeBenchmark.MODEL, 1, PolicyModel.device(device));
                    DecoderModel next = DecoderModel.random(DecodeBenchmark.MODEL, 2, PolicyModel.device(device))) {
                ObjectNode result = ServingBenchmark.run(model, requests, promptTokens, newTokens, streams, repeats);
                result.putObject("model")
                        .put("parameters", DecodeBenchmark.MODEL.parameterCount())
                        .put("device", device);
                result.set(
                        "swap",
                        SwapBenchmark.run(
                                model,
                                next,
                                repeats,
                                Arrays.stream(streams).max().orElse(16)));
                System.out.println(json ? result.toString() : Katmesh.pretty(result));
            }
            return 0;
        }
    }

    @Command(
            name = "swap",
            description = "A hot swap (fetch, verify, stage, install) vs a raw loopback gRPC copy of the same bytes, "
                    + "idle and while decoding (the swap part of bench inference, alone).")
    static final class Swap implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--repeats",
                defaultValue = "21",
                description = "Swaps and raw copies per phase, alternating (the median is kept).")
        int repeats;

        @Option(names = "--streams", defaultValue = "16", description = "Streams decoding during the second phase.")
        int streams;

        @Override
        public Integer call() throws Exception {
            try (DecoderModel model = DecoderModel.random(DecodeBenchmark.MODEL, 1, PolicyModel.device("cpu"));
                    DecoderModel next = DecoderModel.random(DecodeBenchmark.MODEL, 2, PolicyModel.device("cpu"))) {
                ObjectNode result = SwapBenchmark.run(model, next, repeats, streams);
                result.putObject("model").put("parameters", DecodeBenchmark.MODEL.parameterCount());
                System.out.println(json ? result.toString() : Katmesh.pretty(result));
            }
            return 0;
        }
    }

    @Command(
            name = "secrets",
            description =
                    "The reward's secret scan of a record beside its JSON decode, its protobuf encode and a copy of"
                            + " the same bytes (MB/s and time ratios), on agent sessions of each size.")
    static final class Secrets implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--record-bytes",
                split = ",",
                defaultValue = "1000,50000,500000",
                description = "Session sizes (JSON bytes); 1000 is the ingestion bench's 1 KB trajectory.")
        int[] sizes;

        @Option(names = "--megabytes", defaultValue = "32", description = "Records of each size, in MB of JSON.")
        int megabytes;

        @Option(names = "--repeats", defaultValue = "7", description = "Rounds of the four phases (the median kept).")
        int repeats;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = SecretsBenchmark.run(sizes, megabytes, repeats);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "ingestion",
            description = "Trajectories/s through reward to the learner vs Kafka's own ProducerPerformance and "
                    + "ConsumerPerformance on the same records (a fresh mesh in <data-dir>/bench-ingestion).")
    static final class Ingestion implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--records",
                defaultValue = "20000",
                description = "Records of the 1 KB row; a larger size publishes 256 MB of records (at least 200).")
        int records;

        @Option(
                names = "--record-bytes",
                split = ",",
                defaultValue = "1000",
                description = "Record sizes, one row each: up to 2048 the 1 KB trajectory of a tool call, above it a "
                        + "coding session of about that many bytes (tool calls, file contents, test logs), e.g. "
                        + "1000,50000,500000 (default ${DEFAULT-VALUE}).")
        int[] recordBytes;

        @Option(
                names = "--reward-instances",
                split = ",",
                defaultValue = "1",
                description = "Reward instances, one configuration each, measured in turn on the same mesh (scaled "
                        + "between them), e.g. 1,2 (default ${DEFAULT-VALUE}).")
        int[] rewardInstances;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = onCountingMesh(
                    mesh,
                    "bench-ingestion",
                    m -> IngestionBenchmark.run(m, records, recordBytes, rewardInstances, Duration.ofMinutes(10)));
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "capture",
            description = "What durable capture adds to an agent's request: the same sessions with capture on and off,"
                    + " alternating, against the broker's own acknowledged-write latency (ProducerPerformance, acks=all)"
                    + " (a fresh mesh in <data-dir>/bench-capture).")
    static final class Capture implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--agents", defaultValue = "4", description = "Concurrent agents.")
        int agents;

        @Option(names = "--sessions", defaultValue = "10", description = "Sessions per agent and configuration.")
        int sessions;

        @Option(names = "--turns", defaultValue = "6", description = "Requests per session.")
        int turns;

        @Option(names = "--repeats", defaultValue = "2", description = "Rounds of (on, off), alternating the order.")
        int repeats;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = onCountingMesh(
                    mesh,
                    "bench-capture",
                    m -> new CaptureBenchmark(m, System.err).run(agents, sessions, turns, repeats));
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return result.path("capture_audit").path("ok").asBoolean() ? 0 : 1;
        }
    }

    @Command(
            name = "partition-moves",
            description =
                    "Reward instances scaled 1 -> 2 -> 1 -> 2 and one SIGKILLed while a producer publishes at full"
                            + " speed: each move's time until the group settles and its cost, then the audit (a fresh mesh in"
                            + " <data-dir>/bench-partition-moves).")
    static final class PartitionMoves implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--max-records",
                defaultValue = "300000",
                description = "Records published at most (1 KB each); publishing stops after the last move anyway.")
        int maxRecords;

        @Option(names = "--pause", defaultValue = "10", description = "Seconds of full load before each move.")
        int pause;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = onCountingMesh(
                    mesh,
                    "bench-partition-moves",
                    m -> PartitionMovesBenchmark.run(m, maxRecords, Duration.ofSeconds(pause), Duration.ofMinutes(10)));
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return result.path("audit").path("ok").asBoolean() ? 0 : 1;
        }
    }

    @Command(
            name = "async",
            description =
                    "Trajectories trained per minute: asynchronous streaming RL (staleness <= 2) vs synchronous "
                            + "(staleness 0, rollout waiting for every update), generation and "
                            + "training pinned to separate CPUs, with the ideal bound "
                            + "(t_gen + t_train) / max(t_gen, t_train) measured in the same run (fresh meshes in <data-dir>/bench-async).")
    static final class Async implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        Katmesh.MeshOptions mesh = new Katmesh.MeshOptions();

        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(
                names = "--generation-cpus",
                defaultValue = "0",
                description = "CPUs of inference, rollout, reward and the broker (default ${DEFAULT-VALUE}).")
        String generationCpus;

        @Option(
                names = "--training-cpus",
                defaultValue = "1",
                description = "CPUs of the learner (default ${DEFAULT-VALUE}).")
        String trainingCpus;

        @Option(
                names = "--minutes",
                defaultValue = "4",
                description = "Measured minutes per mode, after its warm-up (default ${DEFAULT-VALUE}).")
        double minutes;

        @Option(
                names = "--model",
                paramLabel = "DIR",
                description = "Start both modes from this checkpoint instead of making one (mid-term + SFT).")
        Path model;

        @Override
        public Integer call() throws Exception {
            Path home = MeshLayout.defaultHome();
            Path dir = mesh.dataDir != null
                    ? mesh.dataDir
                    : MeshLayout.defaultDataDir(home).resolve("bench-async");
            ObjectNode result = new AsyncBenchmark(
                            new AsyncBenchmark.Options(
                                    dir,
                                    generationCpus,
                                    trainingCpus,
                                    Duration.ofMillis((long) (minutes * 60_000)),
                                    Duration.ofMinutes(10),
                                    model),
                            System.err)
                    .run();
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }

    @Command(
            name = "copying",
            description =
                    "Does mid-term LM teach the main job's model to copy an instruction's parameter into its code? "
                            + "LM steps on the main job's corpus, then exact greedy solutions of validation tasks, every few steps.")
    static final class Copying implements Callable<Integer> {
        @Option(names = "--json", description = "Print one JSON object (default: indented).")
        boolean json;

        @Option(names = "--steps", defaultValue = "600", description = "LM steps (default ${DEFAULT-VALUE}).")
        int steps;

        @Option(names = "--batch", defaultValue = "32", description = "Documents per step (default ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--lr", defaultValue = "3e-3", description = "Peak learning rate (default ${DEFAULT-VALUE}).")
        double lr;

        @Option(
                names = "--copy-fraction",
                defaultValue = "0",
                description = "Share of each batch that is synthetic copy documents (default ${DEFAULT-VALUE}).")
        double copyFraction;

        @Option(
                names = "--max-digits-per-token",
                defaultValue = "2",
                description = "Digits a token may hold; 0: every digit its own token (default ${DEFAULT-VALUE}).")
        int maxDigits;

        @Option(
                names = "--tasks",
                defaultValue = "36",
                description = "Validation tasks evaluated (default ${DEFAULT-VALUE}).")
        int tasks;

        @Option(
                names = "--every",
                defaultValue = "200",
                description = "Evaluate every this many steps (default ${DEFAULT-VALUE}).")
        int every;

        @Option(
                names = "--family",
                description = "Evaluate only this family's validation tasks (default: every family's, in suite order).")
        String family;

        @Override
        public Integer call() throws Exception {
            ObjectNode result = CopyingBenchmark.run(
                    new CopyingBenchmark.Settings(steps, batch, lr, copyFraction, maxDigits, tasks, every, family, 1),
                    System.err::println);
            System.out.println(json ? result.toString() : Katmesh.pretty(result));
            return 0;
        }
    }
}
