package dev.katmesh.launcher.mesh;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Credentials the launcher makes and keeps for a mesh: {@code <data-dir>/secrets} (owner-only), each
 * written whole (temp file + rename) and readable by its owner only.
 */
public final class Secrets {

    private Secrets() {}

    static Path dir(MeshLayout layout) {
        return layout.dataDir().resolve("secrets");
    }

    /** Writes {@code text} to {@code file} with mode 600, atomically. */
    public static void write(Path file, String text) throws IOException {
        Path parent = file.getParent();
        if (!Files.isDirectory(parent)) {
            Files.createDirectories(parent);
            if (parent.getFileName().toString().equals("secrets")) {
                Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwx------"));
            }
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** A random token with a prefix saying what it is for. */
    static String token(String prefix) {
        byte[] random = new byte[24];
        new SecureRandom().nextBytes(random);
        return prefix + HexFormat.of().formatHex(random);
    }

    /** The token kept in {@code secrets/NAME}, made on first use. */
    static String kept(MeshLayout layout, String name, String prefix) {
        Path file = dir(layout).resolve(name);
        try {
            if (Files.isRegularFile(file)) {
                return Files.readString(file).trim();
            }
            String token = token(prefix);
            write(file, token + "\n");
            return token;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep " + file, e);
        }
    }
}
