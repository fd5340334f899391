package dev.katmesh.launcher.mesh;

import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * How the launcher's own commands (topics, tasks, audit, benchmarks) reach a mesh's broker: its
 * bootstrap servers and, in secure mode, the admin user's SASL settings.
 */
public record KafkaClients(String bootstrap, Map<String, String> security) {

    /** A plaintext broker (the default mesh, or a broker given by address). */
    static KafkaClients plain(String bootstrap) {
        return new KafkaClients(bootstrap, Map.of());
    }

    /** Bootstrap servers plus the security settings; a caller adds its client's own. */
    public Properties properties() {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.putAll(security);
        return p;
    }

    public Admin admin() {
        Properties p = properties();
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "15000");
        return Admin.create(p);
    }
}
