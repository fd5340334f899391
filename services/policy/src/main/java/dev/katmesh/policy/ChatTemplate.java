package dev.katmesh.policy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.jinja.Template;
import dev.katmesh.policy.jinja.TemplateException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's chat template (chat_template.jinja, or chat_template in tokenizer_config.json), rendered as transformers
 * renders it, by the project's Jinja engine ({@link Template}): Python semantics, trim_blocks and lstrip_blocks,
 * transformers' tojson, raise_exception and strftime_now. Messages and tools are the OpenAI chat shapes as plain
 * maps and lists; their content is data, never template code.
 */
public final class ChatTemplate {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Template template;
    private final Map<String, Object> specialTokens;

    /** Parses the template now: a template with a syntax error is refused here, not at the first request. */
    public ChatTemplate(String template, Map<String, Object> specialTokens) {
        try {
            this.template = Template.parse(template);
        } catch (TemplateException e) {
            throw new IllegalArgumentException("chat template does not parse: " + e.getMessage(), e);
        }
        this.specialTokens = new HashMap<>(specialTokens);
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
                            name,
                            v.isTextual()
                                    ? v.asText()
                                    : v.path("content").isTextual()
                                            ? v.get("content").asText()
                                            : null);
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
            try {
                return new ChatTemplate(template, tokens);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(Files.isRegularFile(jinjaFile) ? jinjaFile : config, e.getMessage(), e);
            }
        } catch (IOException e) {
            throw new CheckpointException(config, "not readable: " + e.getMessage(), e);
        }
    }

    /** Renders messages (and tools, may be null) as the model's prompt text. */
    public String render(
            List<Map<String, Object>> messages, List<Map<String, Object>> tools, boolean addGenerationPrompt) {
        return render(messages, tools, addGenerationPrompt, Map.of());
    }

    /**
     * Renders with extra template variables as well (the chat_template_kwargs of a request, such as Qwen3's
     * enable_thinking). A template that refuses the conversation, or fails on it, is an IllegalArgumentException
     * whose message says why.
     */
    public String render(
            List<Map<String, Object>> messages,
            List<Map<String, Object>> tools,
            boolean addGenerationPrompt,
            Map<String, Object> variables) {
        Map<String, Object> ctx = new HashMap<>(specialTokens);
        ctx.putAll(variables);
        ctx.put("messages", messages);
        ctx.put("tools", tools == null || tools.isEmpty() ? null : tools);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        try {
            return template.render(ctx);
        } catch (TemplateException e) {
            throw new IllegalArgumentException(
                    (e.raisedByTemplate() ? "the chat template refused the conversation: " : "chat template failed: ")
                            + e.getMessage(),
                    e);
        }
    }

    /**
     * What {@code full} adds after {@code head}, counted from the end of the last end-of-turn mark in
     * {@code head} (an agent's context ends with the model's own end-of-turn token, not with what the
     * template writes after it); empty when {@code full} does not continue {@code head}.
     *
     * <p>Some templates render a turn differently once it is no longer the last: Qwen3's writes an empty
     * {@code <think>} block into the last assistant turn only, so the rendering of an answer followed by its tool
     * results does not start with the rendering of the answer alone. There the new messages begin after as many
     * end-of-turn marks in {@code full} as {@code head} has: every turn ends with one, however it is rendered. The
     * context keeps the tokens the model saw and wrote for the earlier turns, which is what it was sampled from.
     */
    public static Optional<String> continuation(String head, String full, List<String> endOfTurnMarks) {
        int cut = -1;
        String mark = null;
        for (String m : endOfTurnMarks) {
            int at = m.isEmpty() ? -1 : head.lastIndexOf(m);
            if (at >= 0 && at + m.length() > cut) {
                cut = at + m.length();
                mark = m;
            }
        }
        if (full.startsWith(head)) {
            return Optional.of(full.substring(cut < 0 ? head.length() : cut));
        }
        if (mark == null) {
            return Optional.empty();
        }
        int turns = occurrences(head, mark);
        int at = -1;
        for (int i = 0; i < turns; i++) {
            at = full.indexOf(mark, at + 1);
            if (at < 0) {
                return Optional.empty();
            }
        }
        return Optional.of(full.substring(at + mark.length()));
    }

    private static int occurrences(String text, String mark) {
        int n = 0;
        for (int at = text.indexOf(mark); at >= 0; at = text.indexOf(mark, at + mark.length())) {
            n++;
        }
        return n;
    }
}
