package dev.katmesh.launcher.mesh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.katmesh.proto.wire.FeedbackSenders;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The embedded broker's access control in secure mode ({@code ./katmesh up --secure}): every client
 * connects over TLS (the mesh's own CA, {@link MeshTls}) and authenticates with SASL/SCRAM-SHA-512 as a
 * user of its own, and the broker's StandardAuthorizer lets each do only what its role needs ({@link #acls()}).
 * Deployed agents get the user {@code katmesh-agent}, which may write katmesh.trajectories.raw and nothing else.
 *
 * <p>DESIGN: the broker's own user and the launcher's admin are super users, added to the KRaft storage
 * when it is formatted (KIP-900), because SCRAM users otherwise live in the metadata log the broker
 * needs credentials to reach. The controller listener uses SASL/PLAIN with a password in the broker's
 * own config (KRaft controllers do not take SCRAM). The other users and the ACLs are created through
 * the Admin API at every {@code up} (both are upserts). Passwords are random, kept in
 * {@code <data-dir>/secrets/kafka-users.properties} (owner-only), and reach services through their
 * environment, never their command line.
 */
public final class KafkaAccess {

    static final String MECHANISM = "SCRAM-SHA-512";
    /** SASL over TLS: the passwords and the trajectories cross machines only encrypted ({@link MeshTls}). */
    static final String PROTOCOL = "SASL_SSL";

    /** The users of the embedded broker. */
    enum User {
        /** The broker itself (inter-broker and controller listeners); super user. */
        BROKER("katmesh-broker"),
        /** The launcher's commands (topics, tasks, audit); super user. */
        ADMIN("katmesh-admin"),
        INFERENCE("katmesh-inference"),
        ROLLOUT("katmesh-rollout"),
        REWARD("katmesh-reward"),
        LEARNER("katmesh-learner"),
        /** Deployed agents: write katmesh.trajectories.raw, nothing else. */
        AGENT("katmesh-agent"),
        /** Senders of late feedback (CI, review, ratings): write katmesh.feedback, nothing else. */
        FEEDBACK("katmesh-feedback");

        final String name;

        User(String name) {
            this.name = name;
        }

        static User of(MeshService s) {
            return valueOf(s.name());
        }
    }

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final Map<User, String> passwords;
    private final MeshTls tls;

    private KafkaAccess(Map<User, String> passwords, MeshTls tls) {
        this.passwords = passwords;
        this.tls = tls;
    }

    static Path file(MeshLayout layout) {
        return Secrets.dir(layout).resolve("kafka-users.properties");
    }

    /** The users' passwords of this data dir: read, or made at the first secure start (owner-only file). */
    static KafkaAccess load(MeshLayout layout) {
        Path file = file(layout);
        Properties saved = new Properties();
        try {
            if (Files.isRegularFile(file)) {
                try (var in = Files.newBufferedReader(file)) {
                    saved.load(in);
                }
            }
            Map<User, String> passwords = new LinkedHashMap<>();
            boolean changed = false;
            for (User u : User.values()) {
                String pw = saved.getProperty(u.name);
                if (pw == null || pw.isBlank()) {
                    pw = randomPassword();
                    saved.setProperty(u.name, pw);
                    changed = true;
                }
                passwords.put(u, pw);
            }
            if (changed) {
                StringBuilder text = new StringBuilder(
                        "# SCRAM-SHA-512 passwords of the embedded broker's users (secure mode). Keep private.\n");
                for (User u : User.values()) {
                    text.append(u.name).append('=').append(passwords.get(u)).append('\n');
                }
                Secrets.write(file, text.toString());
            }
            return new KafkaAccess(passwords, MeshTls.of(layout));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the Kafka users in " + file, e);
        }
    }

    String password(User u) {
        return passwords.get(u);
    }

    static String randomPassword() {
        return Secrets.token("");
    }

    static String jaas(String user, String password) {
        return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\""
                + password + "\";";
    }

    /** Client settings of a user: what a Java client (or Quarkus's kafka.* config) needs besides the bootstrap servers. */
    Map<String, String> clientConfig(User u) {
        return clientConfig(u.name, passwords.get(u));
    }

    private Map<String, String> clientConfig(String user, String password) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("security.protocol", PROTOCOL);
        c.put("sasl.mechanism", MECHANISM);
        c.put("sasl.jaas.config", jaas(user, password));
        c.putAll(trust(tls));
        return c;
    }

    /** The settings with which a Kafka client trusts the mesh's CA (and checks the broker's name, the default). */
    static Map<String, String> trust(MeshTls tls) {
        return Map.of(
                "ssl.truststore.type",
                "PEM",
                "ssl.truststore.location",
                tls.ca().toString());
    }

    /** The listener, TLS, SASL and authorizer lines of server.properties in secure mode. */
    String serverProperties(int port, int controllerPort) {
        String broker = User.BROKER.name;
        String pw = passwords.get(User.BROKER);
        return String.join(
                "\n",
                "listeners=CLIENT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=CLIENT://127.0.0.1:" + port,
                "inter.broker.listener.name=CLIENT",
                "listener.security.protocol.map=CLIENT:SASL_SSL,CONTROLLER:SASL_SSL",
                "ssl.keystore.type=PEM",
                "ssl.keystore.location=" + tls.brokerKeyStore(),
                // The broker is a client of its own listeners too (inter-broker, controller).
                "ssl.truststore.type=PEM",
                "ssl.truststore.location=" + tls.ca(),
                "sasl.enabled.mechanisms=" + MECHANISM,
                "sasl.mechanism.inter.broker.protocol=" + MECHANISM,
                "listener.name.client.scram-sha-512.sasl.jaas.config=" + jaas(broker, pw),
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                "listener.name.controller.plain.sasl.jaas.config=org.apache.kafk"
                        + "a.common.security.plain.PlainLoginModule required username=\""
                        + broker + "\" password=\"" + pw + "\" user_" + broker + "=\"" + pw + "\";",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users=User:" + broker + ";User:" + User.ADMIN.name,
                // No ACL means no access (the default, stated so that nobody flips it by accident).
                "allow.everyone.if.no.acl.found=false");
    }

    /** The SCRAM users the KRaft storage is formatted with, as {@code kafka-storage format --add-scram} values. */
    List<String> bootstrapScram() {
        return List.of(scramArg(User.BROKER), scramArg(User.ADMIN));
    }

    private String scramArg(User u) {
        return MECHANISM + "=[name=" + u.name + ",password=" + passwords.get(u) + "]";
    }

    /**
     * What each user may do: the ACLs of its Strimzi {@code KafkaUser} in kafka-topics/users/ — the
     * same files the Helm chart renders for a cluster. Least privilege: a service reads and writes the
     * topics of its role and joins only its own consumer groups; agents write raw trajectories only.
     */
    static List<AclBinding> acls() {
        List<AclBinding> acls = new ArrayList<>();
        for (User u : User.values()) {
            if (u == User.BROKER || u == User.ADMIN) {
                continue; // super users
            }
            String resource = TopicCatalog.RESOURCE_DIR + "users/" + u.name + ".yaml";
            try (InputStream in = KafkaAccess.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IllegalStateException(resource + " is not on the classpath (a broken build)");
                }
                acls.addAll(acls(YAML.readTree(in), u.name));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + resource, e);
            }
        }
        return acls;
    }

    /** The ACL bindings of one KafkaUser document (spec.authorization.acls, Strimzi's simple authorization). */
    static List<AclBinding> acls(JsonNode kafkaUser, String user) {
        if (!user.equals(kafkaUser.path("metadata").path("name").asText())) {
            throw new IllegalArgumentException("the KafkaUser file of " + user + " names "
                    + kafkaUser.path("metadata").path("name"));
        }
        List<AclBinding> out = new ArrayList<>();
        for (JsonNode acl : kafkaUser.path("spec").path("authorization").path("acls")) {
            JsonNode r = acl.path("resource");
            ResourceType type = switch (r.path("type").asText()) {
                case "topic" -> ResourceType.TOPIC;
                case "group" -> ResourceType.GROUP;
                case "transactionalId" -> ResourceType.TRANSACTIONAL_ID;
                default ->
                    throw new IllegalArgumentException(
                            user + ": resource type " + r.path("type") + " is not used by katmesh");
            };
            PatternType pattern = r.path("patternType").asText("literal").equals("prefix")
                    ? PatternType.PREFIXED
                    : PatternType.LITERAL;
            for (JsonNode op : acl.path("operations")) {
                AclOperation operation = AclOperation.fromString(op.asText());
                if (operation == AclOperation.UNKNOWN) {
                    throw new IllegalArgumentException(user + ": unknown operation " + op);
                }
                out.add(new AclBinding(
                        new ResourcePattern(type, r.path("name").asText(), pattern),
                        new AccessControlEntry("User:" + user, "*", operation, AclPermissionType.ALLOW)));
            }
        }
        return out;
    }

    /** Creates (or updates) the non-bootstrap users and the ACLs; both are idempotent. */
    void ensureUsersAndAcls(Admin admin) throws InterruptedException {
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        for (User u : User.values()) {
            if (u != User.BROKER && u != User.ADMIN) {
                users.add(new UserScramCredentialUpsertion(
                        u.name, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), passwords.get(u)));
            }
        }
        try {
            admin.alterUserScramCredentials(users).all().get(30, TimeUnit.SECONDS);
            admin.createAcls(acls()).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("creating the Kafka users and ACLs failed: " + e.getMessage(), e);
        }
    }

    /**
     * Writes the client settings of the users outside the mesh beside the passwords — deployed agents
     * ({@code agent.*}: may write katmesh.trajectories.raw only) and feedback senders ({@code feedback.*}: may write
     * katmesh.feedback only) — as {@code .properties} for Java clients and Kafka's tools ({@code --command-config})
     * and {@code .json} for other clients; returns the agents' Java one.
     */
    Path writeAgentConfig(MeshLayout layout, String bootstrap) {
        writeClientConfig(
                layout, bootstrap, User.FEEDBACK, "feedback", "a feedback sender: may write katmesh.feedback");
        return writeClientConfig(
                layout, bootstrap, User.AGENT, "agent", "a deployed agent: may write katmesh.trajectories.raw");
    }

    /**
     * A feedback sender of its own ({@code up --feedback-sender NAME=...}, {@link FeedbackSenders}): the user
     * katmesh-feedback-NAME, which may write katmesh.feedback.from.NAME and nothing else, and its client settings
     * {@code secrets/feedback-NAME.properties} and {@code .json}. Its password is kept in the secrets folder.
     */
    void ensureFeedbackSender(Admin admin, MeshLayout layout, String bootstrap, String sender)
            throws InterruptedException {
        String user = FeedbackSenders.user(sender);
        String topic = FeedbackSenders.topic(sender);
        String password = Secrets.kept(layout, user + ".password", "");
        try {
            admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(
                            user, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password)))
                    .all()
                    .get(30, TimeUnit.SECONDS);
            admin.createAcls(List.of(new AclBinding(
                            new ResourcePattern(ResourceType.TOPIC, topic, PatternType.LITERAL),
                            new AccessControlEntry("User:" + user, "*", AclOperation.WRITE, AclPermissionType.ALLOW))))
                    .all()
                    .get(30, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("creating the feedback sender " + user + " failed: " + e.getMessage(), e);
        }
        writeClientConfig(
                layout,
                bootstrap,
                user,
                password,
                "feedback-" + sender,
                "the feedback sender " + sender + ": may write " + topic);
    }

    private Path writeClientConfig(MeshLayout layout, String bootstrap, User user, String stem, String who) {
        return writeClientConfig(layout, bootstrap, user.name, passwords.get(user), stem, who);
    }

    private Path writeClientConfig(
            MeshLayout layout, String bootstrap, String user, String password, String stem, String who) {
        Path dir = Secrets.dir(layout);
        try {
            StringBuilder props = new StringBuilder("# Client settings of " + who + " only.\n");
            props.append("bootstrap.servers=").append(bootstrap).append('\n');
            clientConfig(user, password)
                    .forEach((k, v) -> props.append(k)
                            .append('=')
                            .append(v.replace("\\", "\\\\"))
                            .append('\n'));
            Path javaConfig = dir.resolve(stem + ".properties");
            Secrets.write(javaConfig, props.toString());
            Map<String, String> json = new LinkedHashMap<>();
            json.put("bootstrap", bootstrap);
            json.put("security_protocol", PROTOCOL);
            json.put("sasl_mechanism", MECHANISM);
            json.put("username", user);
            json.put("password", password);
            json.put("ca", tls.ca().toString());
            Secrets.write(dir.resolve(stem + ".json"), new ObjectMapper().writeValueAsString(json) + "\n");
            return javaConfig;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the " + stem + " Kafka settings in " + dir, e);
        }
    }
}
