package dev.katmesh.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A model's chat template (chat_template.jinja, or chat_template in tokenizer_config.json), rendered
 * as transformers renders it: Jinja with trim_blocks and lstrip_blocks, a {@code tojson} that writes
 * Python's json.dumps form (", " and ": " separators, no HTML escaping, non-ASCII kept) and
 * {@code raise_exception}. Messages and tools are the OpenAI chat shapes as plain maps and lists.
 */
public final class ChatTemplate {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String template;
    private final Map<String, Object> specialTokens;
    private final Jinjava jinja;

    public ChatTemplate(String template, Map<String, Object> specialTokens) {
        this.template = template;
        this.specialTokens = Map.copyOf(specialTokens);
        this.jinja = new Jinjava(JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                // Jinjava re-renders a string that looks like a template ("{{ 7*7 }}" became "49"); Jinja, and so
                // transformers, writes a variable's value as it is. Content is data.
                .withNestedInterpretationEnabled(false)
                .build());
        jinja.getGlobalContext().registerFilter(new PythonJsonFilter());
        jinja.getGlobalContext()
                .registerFunction(new ELFunctionDefinition(
                        "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    }

    /** Reads chat_template.jinja, else the chat_template field of tokenizer_config.json. */
    public static ChatTemplate load(Path dir) {
        Path jinjaFile = dir.resolve("chat_template.jinja");
        Path config = dir.resolve("tokenizer_config.json");
        try {
            Map<String, Object> tokens = new HashMap<>();
            String template = null;
            if (Files.isRegularFile(config)) {
                var c = JSON.readTree(config.toFile());
                for (String name : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
                    var v = c.path(name);
                    tokens.put(
                            name, v.isTextual() ? v.asText() : v.path("content").asText(""));
                }
                if (c.path("chat_template").isTextual()) {
                    template = c.get("chat_template").asText();
                }
            }
            if (Files.isRegularFile(jinjaFile)) {
                template = Files.readString(jinjaFile);
            }
            if (template == null) {
                throw new CheckpointException(
                        dir,
                        "no chat template: neither chat_template.jinja nor a chat_template in tokenizer_config.json");
            }
            return new ChatTemplate(template, tokens);
        } catch (IOException e) {
            throw new CheckpointException(config, "not readable: " + e.getMessage(), e);
        }
    }

    /** Renders messages (and tools, may be null) as the model's prompt text. */
    public String render(
            List<Map<String, Object>> messages, List<Map<String, Object>> tools, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.put("messages", messages);
        ctx.put("tools", tools == null || tools.isEmpty() ? null : tools);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = jinja.renderForResult(template, ctx);
        List<TemplateError> fatal = result.getErrors().stream()
                .filter(e -> e.getSeverity() == TemplateError.ErrorType.FATAL)
                .toList();
        if (!fatal.isEmpty()) {
            throw new IllegalArgumentException("chat template failed: "
                    + fatal.stream().map(TemplateError::getMessage).collect(Collectors.joining("; ")));
        }
        return result.getOutput();
    }

    /** The template's raise_exception(message). */
    /**
     * What {@code full} adds after {@code head}, counted from the end of the last end-of-turn mark in
     * {@code head} (an agent's context ends with the model's own end-of-turn token, not with what the
     * template writes after it); empty when {@code full} does not start with {@code head}.
     */
    public static Optional<String> continuation(String head, String full, List<String> endOfTurnMarks) {
        if (!full.startsWith(head)) {
            return Optional.empty();
        }
        int cut = -1;
        for (String mark : endOfTurnMarks) {
            int at = mark.isEmpty() ? -1 : head.lastIndexOf(mark);
            if (at >= 0) {
                cut = Math.max(cut, at + mark.length());
            }
        }
        return Optional.of(full.substring(cut < 0 ? head.length() : cut));
    }

    public static String raiseException(String message) {
        throw new IllegalArgumentException(message);
    }

    /** tojson as transformers defines it: json.dumps(x, ensure_ascii=False). */
    static final class PythonJsonFilter implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            StringBuilder out = new StringBuilder();
            write(var, out);
            return out.toString();
        }

        static void write(Object v, StringBuilder out) {
            if (v == null) {
                out.append("null");
            } else if (v instanceof Boolean b) {
                out.append(b ? "true" : "false");
            } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof BigInteger) {
                out.append(v);
            } else if (v instanceof Number n) {
                double d = n.doubleValue();
                out.append(d == Math.rint(d) && Math.abs(d) < 1e16 ? String.format("%.1f", d) : Double.toString(d));
            } else if (v instanceof Map<?, ?> m) {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    if (!first) {
                        out.append(", ");
                    }
                    first = false;
                    string(String.valueOf(e.getKey()), out);
                    out.append(": ");
                    write(e.getValue(), out);
                }
                out.append('}');
            } else if (v instanceof Iterable<?> list) {
                out.append('[');
                boolean first = true;
                for (Object o : list) {
                    if (!first) {
                        out.append(", ");
                    }
                    first = false;
                    write(o, out);
                }
                out.append(']');
            } else if (v instanceof Object[] arr) {
                write(List.of(arr), out);
            } else {
                string(v.toString(), out);
            }
        }

        static void string(String s, StringBuilder out) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            out.append(String.format("\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }
}
