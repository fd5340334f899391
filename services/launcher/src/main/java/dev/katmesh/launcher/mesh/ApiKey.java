package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The embedded mesh's API key for the OpenAI API and gRPC: KATMESH_API_KEY when set, else the one
 * saved in the data dir, else a new random one (saved, owner-readable only, so restarts keep it).
 */
public record ApiKey(String key, String origin) {

    /** The agent id the key identifies (the agent id of captured sessions). */
    static final String AGENT = "local";

    static final String ENV = "KATMESH_API_KEY";

    static Path file(MeshLayout layout) {
        return layout.dataDir().resolve("api-key");
    }

    public static ApiKey resolve(MeshLayout layout) {
        Path file = file(layout);
        try {
            String env = System.getenv(ENV);
            if (env != null && !env.isBlank()) {
                String key = env.trim();
                if (key.contains(",") || key.chars().anyMatch(Character::isWhitespace)) {
                    throw new IllegalArgumentException(ENV + " must not contain commas or whitespace");
                }
                save(file, key);
                return new ApiKey(key, "from " + ENV);
            }
            if (Files.isRegularFile(file)) {
                return new ApiKey(Files.readString(file).trim(), "saved in " + file);
            }
            String key = Secrets.token("km-");
            save(file, key);
            return new ApiKey(key, "generated, saved in " + file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the API key in " + file, e);
        }
    }

    private static void save(Path file, String key) throws IOException {
        Secrets.write(file, key + "\n");
    }
}
