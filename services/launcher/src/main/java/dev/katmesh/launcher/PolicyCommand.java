package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.launcher.demo.ModelFactory;
import dev.katmesh.policy.ChatTemplate;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.PolicyTokenizer;
import dev.katmesh.policy.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `./katmesh policy ...`: the policy model from the command line; each command prints one JSON object. */
@Command(
        name = "policy",
        description = "Tokenize, render chats, score and generate with a Hugging Face checkpoint folder.",
        subcommands = {
            PolicyCommand.Tokenize.class,
            PolicyCommand.ChatTemplateCmd.class,
            PolicyCommand.Score.class,
            PolicyCommand.Generate.class,
            PolicyCommand.Tokenizer.class,
            PolicyCommand.Init.class
        })
public final class PolicyCommand {

    static final ObjectMapper JSON = new ObjectMapper();

    static class ModelOption {
        @Option(
                names = "--model",
                required = true,
                paramLabel = "DIR",
                description = "A Hugging Face checkpoint folder.")
        Path model;

        @Option(
                names = "--device",
                paramLabel = "DEVICE",
                defaultValue = "cpu",
                description = "cpu, gpu or gpu:N (default ${DEFAULT-VALUE}).")
        String device;

        PolicyModel load() {
            return PolicyModel.load(model, PolicyModel.device(device));
        }
    }

    static int[] parseIds(String csv) {
        if (csv.isBlank()) {
            return new int[0];
        }
        try {
            return Arrays.stream(csv.split(","))
                    .map(String::trim)
                    .mapToInt(Integer::parseInt)
                    .toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--ids must be comma-separated integers: " + e.getMessage());
        }
    }

    static ArrayNode ints(int[] ids) {
        ArrayNode a = JSON.createArrayNode();
        for (int id : ids) {
            a.add(id);
        }
        return a;
    }

    static ArrayNode floats(float[] xs) {
        ArrayNode a = JSON.createArrayNode();
        for (float x : xs) {
            a.add(x);
        }
        return a;
    }

    static void print(ObjectNode o) {
        System.out.println(o.toString());
    }

    @Command(name = "tokenize", description = "Prints {\"ids\":[...]} of a text.")
    static final class Tokenize implements Callable<Integer> {
        @Option(names = "--model", required = true, paramLabel = "DIR")
        Path model;

        @Option(names = "--text", required = true)
        String text;

        @Override
        public Integer call() {
            try (PolicyTokenizer t = PolicyModel.tokenizer(model)) {
                ObjectNode o = JSON.createObjectNode();
                o.set("ids", ints(t.encode(text)));
                print(o);
            }
            return 0;
        }
    }

    @Command(
            name = "chat-template",
            description = "Prints {\"text\":...,\"ids\":[...]} of messages rendered with the chat template.")
    static final class ChatTemplateCmd implements Callable<Integer> {
        @Option(names = "--model", required = true, paramLabel = "DIR")
        Path model;

        @Option(
                names = "--messages",
                required = true,
                paramLabel = "FILE",
                description = "A JSON array of messages (OpenAI chat format).")
        Path messages;

        @Option(names = "--tools", paramLabel = "FILE", description = "A JSON array of tools.")
        Path tools;

        @Option(names = "--add-generation-prompt", description = "End with the assistant's turn opening.")
        boolean addGenerationPrompt;

        @Override
        public Integer call() throws Exception {
            List<Map<String, Object>> msgs = PolicyModel.parseJsonArray(Files.readString(messages));
            List<Map<String, Object>> tls = tools == null ? null : PolicyModel.parseJsonArray(Files.readString(tools));
            String text = ChatTemplate.load(model).render(msgs, tls, addGenerationPrompt);
            try (PolicyTokenizer t = PolicyModel.tokenizer(model)) {
                ObjectNode o = JSON.createObjectNode();
                o.put("text", text);
                o.set("ids", ints(t.encode(text)));
                print(o);
            }
            return 0;
        }
    }

    @Command(name = "score", description = "Prints {\"logprobs\":[...]}: entry i is log p(ids[i+1] | ids[0..i]).")
    static final class Score implements Callable<Integer> {
        @ArgGroup(exclusive = false, multiplicity = "1")
        ModelOption model = new ModelOption();

        @Option(names = "--ids", required = true, paramLabel = "1,2,3")
        String ids;

        @Override
        public Integer call() {
            try (PolicyModel m = model.load()) {
                ObjectNode o = JSON.createObjectNode();
                o.set("logprobs", floats(m.score(parseIds(ids))));
                print(o);
            }
            return 0;
        }
    }

    @Command(
            name = "generate",
            description = "Prints {\"ids\":[...new ids...],\"logprobs\":[...],\"finish_reason\":...}.")
    static final class Generate implements Callable<Integer> {
        @ArgGroup(exclusive = false, multiplicity = "1")
        ModelOption model = new ModelOption();

        @Option(names = "--ids", required = true, paramLabel = "1,2,3")
        String ids;

        @Option(names = "--max-new-tokens", required = true, paramLabel = "N")
        int maxNewTokens;

        @Option(names = "--greedy", description = "Argmax decoding (the default when no temperature is given).")
        boolean greedy;

        @Option(names = "--temperature", paramLabel = "T")
        Float temperature;

        @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0")
        float topP;

        @Option(names = "--top-k", paramLabel = "K", defaultValue = "0")
        int topK;

        @Option(names = "--seed", paramLabel = "S", defaultValue = "0")
        long seed;

        @Option(names = "--stop-ids", paramLabel = "1,2", description = "Token ids that end generation.")
        String stopIds;

        @Override
        public Integer call() {
            if (greedy && temperature != null) {
                throw new IllegalArgumentException("--greedy and --temperature exclude each other");
            }
            int[] stop = stopIds == null ? new int[0] : parseIds(stopIds);
            SamplingParams params = new SamplingParams(
                    maxNewTokens,
                    greedy || temperature == null ? 0f : temperature,
                    topK,
                    topP,
                    seed,
                    Set.copyOf(Arrays.stream(stop).boxed().toList()));
            try (PolicyModel m = model.load()) {
                Generation g = m.generate(parseIds(ids), params);
                ObjectNode o = JSON.createObjectNode();
                o.set("ids", ints(g.tokens()));
                o.set("logprobs", floats(g.logprobs()));
                o.put("finish_reason", g.finishReason());
                print(o);
            }
            return 0;
        }
    }

    @Command(
            name = "tokenizer",
            description = "Trains a byte-level BPE tokenizer on text files (one document per file, or JSONL with a "
                    + "\"text\" field per line) and writes it with katmesh's chat template.")
    static final class Tokenizer implements Callable<Integer> {
        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(names = "--corpus", required = true, split = ",", paramLabel = "FILE")
        List<Path> corpus;

        @Option(
                names = "--vocab",
                defaultValue = "2048",
                description = "Vocabulary size, special tokens and the 256 bytes included.")
        int vocab;

        @Override
        public Integer call() throws Exception {
            List<String> texts = new ArrayList<>();
            for (Path f : corpus) {
                if (f.toString().endsWith(".jsonl")) {
                    for (String line : Files.readAllLines(f)) {
                        if (!line.isBlank()) {
                            texts.add(JSON.readTree(line).path("text").asText(line));
                        }
                    }
                } else {
                    texts.add(Files.readString(f));
                }
            }
            ObjectNode o = JSON.createObjectNode();
            o.put("tokenizer", out.toAbsolutePath().toString());
            o.put("vocab", ModelFactory.tokenizer(texts, vocab, out));
            print(o);
            return 0;
        }
    }

    @Command(
            name = "init",
            description =
                    "Makes a fresh Qwen3 model of any shape from a seed (weights, config, and a tokenizer copied from --tokenizer).")
    static final class Init implements Callable<Integer> {
        @Option(names = "--out", required = true, paramLabel = "DIR")
        Path out;

        @Option(
                names = "--tokenizer",
                required = true,
                paramLabel = "DIR",
                description = "A folder with tokenizer.json and a chat template to copy (e.g. from `policy "
                        + "tokenizer`); its config.json, if any, gives vocabulary and special ids.")
        Path tokenizer;

        @Option(names = "--hidden", defaultValue = "256")
        int hidden;

        @Option(names = "--intermediate", defaultValue = "704")
        int intermediate;

        @Option(names = "--layers", defaultValue = "4")
        int layers;

        @Option(names = "--heads", defaultValue = "4")
        int heads;

        @Option(names = "--kv-heads", defaultValue = "2")
        int kvHeads;

        @Option(names = "--head-dim", defaultValue = "64")
        int headDim;

        @Option(names = "--max-positions", defaultValue = "4096")
        int maxPositions;

        @Option(names = "--seed", defaultValue = "0")
        long seed;

        @Override
        public Integer call() throws Exception {
            long parameters = ModelFactory.init(
                    tokenizer,
                    new ModelFactory.Shape(hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions),
                    seed,
                    out);
            ObjectNode o = JSON.createObjectNode();
            o.put("model", out.toAbsolutePath().toString());
            o.put("parameters", parameters);
            print(o);
            return 0;
        }
    }
}
