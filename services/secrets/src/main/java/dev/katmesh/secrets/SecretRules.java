package dev.katmesh.secrets;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The built-in rules, most specific first (where two rules find the same span, the earlier names it), and the
 * operator's own. Formats follow the providers' documentation of their key prefixes; the generic rules
 * (assignments, credentials in URLs, bearer headers, high entropy) catch what has no prefix.
 */
public final class SecretRules {

    private SecretRules() {}

    /** What a secret's value is not, in an assignment: references, expressions, types and placeholders. */
    private static final Pattern NOT_A_VALUE = Pattern.compile(
            "(?i)\\$.*|%.*%|<.*>|\\{.*\\}|[*x.]+|\\d+|[~.]?/.*|(?:your|my|some)[_-].*|.*[_-]here|redacted.*|example.*|placeholder"
                    + "|changeme|dummy|none|null|nil|undefined|true|false|str|string|int|bool|bytes|number|object"
                    + "|optional.*|secretstr|required|env|getenv.*");

    /** A reference such as {@code self.token}, {@code os.environ}, {@code config.api_key}. */
    private static final Pattern DOTTED = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)+");

    /** A plain word (letters and underscores): an identifier in code, e.g. {@code password = new_password}. */
    private static final Pattern WORD = Pattern.compile("[A-Za-z_]+");

    public static List<SecretRule> builtIn() {
        List<SecretRule> rules = new ArrayList<>();
        rules.add(new PatternRule(
                "private-key",
                "-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:[\\s\\S]{0,16384}?-----END[ A-Z0-9]{0,30}"
                        + "PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\\s\\\\:,-]*)",
                "PRIVATE KEY"));
        rules.add(PatternRule.prefixed(
                "aws-access-key-id",
                "\\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])",
                "AKIA",
                "ASIA",
                "ABIA",
                "ACCA"));
        rules.add(new PatternRule(
                "aws-secret-access-key",
                Pattern.compile("(?i)aws_?secret_?access_?key[\"']?\\s*[:=]\\s*[\"']?"
                        + "([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
                List.of("ecret_access_key", "ECRET_ACCESS_KEY", "ecretAccessKey", "ecret_Access_Key"),
                null));
        rules.add(PatternRule.prefixed(
                "github-token",
                "\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\\b",
                "gh",
                "github_pat_"));
        rules.add(PatternRule.prefixed("gitlab-token", "\\bglpat-[A-Za-z0-9_-]{20,}", "glpat-"));
        rules.add(PatternRule.prefixed("anthropic-api-key", "\\bsk-ant-(?:api|admin)\\d{2}-[A-Za-z0-9_-]{80,}", "sk-"));
        rules.add(PatternRule.prefixed(
                "openai-api-key",
                "\\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{48}(?![A-Za-z0-9])"
                        + "|[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})",
                "sk-"));
        rules.add(PatternRule.prefixed("slack-token", "\\bxox[abposr]-[A-Za-z0-9-]{10,}", "xox"));
        rules.add(PatternRule.prefixed(
                "slack-webhook",
                "https://hooks\\.slack\\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+",
                "https://hooks.slack.com/"));
        rules.add(PatternRule.prefixed("stripe-key", "\\b[rs]k_(?:live|test)_[A-Za-z0-9]{20,}", "sk_", "rk_"));
        rules.add(PatternRule.prefixed("google-api-key", "\\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])", "AIza"));
        rules.add(PatternRule.prefixed("huggingface-token", "\\bhf_[A-Za-z0-9]{34,}(?![A-Za-z0-9])", "hf_"));
        rules.add(PatternRule.prefixed("npm-token", "\\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", "npm_"));
        rules.add(PatternRule.prefixed(
                "jwt", "\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}", "eyJ"));
        rules.add(PatternRule.prefixed(
                "url-credentials",
                Pattern.compile("://[^\\s:/@\"'<>]{1,128}:([^\\s:/@\"'<>]{3,256})@"),
                v -> NOT_A_VALUE.matcher(v).matches(),
                "://"));
        rules.add(PatternRule.prefixed(
                "bearer-token",
                Pattern.compile("(?i)\\bauthorization\\\\?[\"']?\\s*[:=]\\s*\\\\?[\"']?(?:bearer|basic|token)\\s+"
                        + "([A-Za-z0-9._~+/=-]{12,})"),
                v -> NOT_A_VALUE.matcher(v).matches(),
                "authorization",
                "Authorization",
                "AUTHORIZATION"));
        rules.add(assignment());
        rules.add(new EntropyRule());
        return rules;
    }

    /**
     * {@code PASSWORD=...}, {@code "api_key": "..."}, {@code token: ...}, {@code client_secret => '...'}: the value
     * of a key that ends in a word naming a credential ({@code token_count} and {@code password_hash} do not). Keys
     * match in any case ({@code apiKey}, {@code API_KEY}). A quoted value of 4+
     * characters is a secret unless it is a placeholder; a bare
     * value of 6+ characters is one unless it is a reference, a call, or — under a key that is not UPPER_CASE (code,
     * not an env file) — a plain word, since {@code password = new_password} is code. A dictionary-word password
     * under a lower-case key ({@code password: letmein} in YAML) is missed: documented.
     */
    /** The words a credential's key ends with, in any case. */
    private static final List<String> KEY_WORDS = List.of(
            "passwords",
            "password",
            "passwd",
            "secret_key",
            "secretkey",
            "secret-key",
            "secrets",
            "secret",
            "tokens",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "access_key",
            "accesskey",
            "access-key",
            "private_key",
            "privatekey",
            "private-key",
            "auth_key",
            "authkey",
            "auth-key",
            "credentials",
            "credential");

    /** Where the key word that ends at {@code end} starts, or -1 when the key does not end with one. */
    private static int keyWordStart(String text, int end) {
        if (end == 0 || "sdytnlSDYTNL".indexOf(text.charAt(end - 1)) < 0) { // no key word ends otherwise
            return -1;
        }
        for (String w : KEY_WORDS) {
            int start = end - w.length();
            if (start >= 0 && text.regionMatches(true, start, w, 0, w.length())) {
                return start;
            }
        }
        return -1;
    }

    private static SecretRule assignment() {
        Pattern p = Pattern.compile("(?i)(password|passwd|secret[_-]?key|secret|token|api[_-]?key|access[_-]?key"
                + "|private[_-]?key|auth[_-]?key|credentials?)s?(?![A-Za-z0-9_])\\\\?[\"']?[ \\t]*(?::=|=>|=|:)[ \\t]*"
                + "(?:\\\\?\"([^\"\\s\\\\]{4,200})\\\\?\"|'([^'\\s\\\\]{4,200})'"
                + "|([^\\s\"'`,;(){}\\[\\]<>\\\\=$][^\\s\"'`,;(){}\\[\\]<>\\\\]{5,199})(?![(.\\[A-Za-z0-9]))");
        return new SecretRule() {
            @Override
            public String name() {
                return "password-assignment";
            }

            @Override
            public void find(String text, Consumer<Finding> out) {
                // The pattern runs only where a key naming a credential ends right before '=' or ':' (a pass over the
                // characters, then a few comparisons at each separator), anchored at that key word.
                Matcher m = p.matcher(text);
                for (char separator : new char[] {'=', ':'}) {
                    for (int i = text.indexOf(separator); i >= 0; i = text.indexOf(separator, i + 1)) {
                        int j = i - 1;
                        while (j >= 0 && (text.charAt(j) == ' ' || text.charAt(j) == '\t')) {
                            j--;
                        }
                        while (j >= 0 && (text.charAt(j) == '"' || text.charAt(j) == '\'' || text.charAt(j) == '\\')) {
                            j--;
                        }
                        int key = keyWordStart(text, j + 1);
                        if (key >= 0) {
                            m.region(key, Math.min(text.length(), key + 300));
                            if (m.lookingAt()) {
                                values(m, out);
                            }
                        }
                    }
                }
            }

            private void values(Matcher m, Consumer<Finding> out) {
                boolean upperKey = m.group(1).equals(m.group(1).toUpperCase(Locale.ROOT));
                for (int g = 2; g <= 4; g++) {
                    String v = m.group(g);
                    if (v == null || NOT_A_VALUE.matcher(v).matches()) {
                        continue;
                    }
                    boolean bare = g == 4;
                    if (bare
                            && (DOTTED.matcher(v).matches()
                                    || (!upperKey && WORD.matcher(v).matches()))) {
                        continue;
                    }
                    out.accept(new Finding(name(), m.start(g), m.end(g)));
                }
            }
        };
    }

    /**
     * The operator's rules: one {@code name=regex} a line; blank lines and lines starting with {@code #} are skipped.
     * The secret is the pattern's first capturing group that matched, or the whole match.
     */
    public static List<SecretRule> parse(Collection<String> lines) {
        List<SecretRule> rules = new ArrayList<>();
        int n = 0;
        for (String line : lines) {
            n++;
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            int eq = l.indexOf('=');
            if (eq <= 0 || eq == l.length() - 1) {
                throw new IllegalArgumentException("secret rule line " + n + ": expected name=regex, got: " + l);
            }
            String name = l.substring(0, eq).strip();
            if (!name.matches("[a-z0-9][a-z0-9-]{0,62}")) {
                throw new IllegalArgumentException(
                        "secret rule line " + n + ": a name is lower-case letters, digits and '-', got: " + name);
            }
            try {
                rules.add(new PatternRule(name, Pattern.compile(l.substring(eq + 1)), List.of(), null));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("secret rule " + name + ": " + e.getDescription(), e);
            }
        }
        return rules;
    }

    /** The built-in rules but those {@code disabled}, then {@code extra}; an unknown disabled name is an error. */
    public static List<SecretRule> select(Set<String> disabled, List<SecretRule> extra) {
        List<SecretRule> all = builtIn();
        Set<String> names = new HashSet<>();
        all.forEach(r -> names.add(r.name()));
        for (String d : disabled) {
            if (!names.contains(d)) {
                throw new IllegalArgumentException("no built-in secret rule named " + d + "; they are " + names);
            }
        }
        Predicate<SecretRule> on = r -> !disabled.contains(r.name());
        List<SecretRule> rules = new ArrayList<>(all.stream().filter(on).toList());
        rules.addAll(extra);
        return rules;
    }
}
