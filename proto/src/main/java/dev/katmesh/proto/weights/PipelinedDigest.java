package dev.katmesh.proto.weights;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A SHA-256 computed on a thread of its own while the stream goes on: the receiving thread hands each chunk over
 * and goes back to the transport and staging, so the hash (1.5 GB/s with the CPU's SHA instructions, a third of a
 * swap's cost when computed inline) overlaps the transfer instead of following it. Chunks are hashed in the order
 * given; the buffers handed over must not change afterwards (a stream's chunks are immutable).
 */
final class PipelinedDigest implements AutoCloseable {

    private final MessageDigest md;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "katmesh-weights-sha256");
        t.setDaemon(true);
        return t;
    });

    PipelinedDigest() {
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    void update(ByteBuffer bytes) {
        ByteBuffer own = bytes.duplicate();
        thread.execute(() -> md.update(own));
    }

    /** The hex digest of everything handed over, once the hashing thread has caught up. */
    String hex() {
        Callable<byte[]> finish = md::digest;
        Future<byte[]> digest = thread.submit(finish);
        try {
            return HexFormat.of().formatHex(digest.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while hashing weights", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("hashing weights failed", e.getCause());
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
