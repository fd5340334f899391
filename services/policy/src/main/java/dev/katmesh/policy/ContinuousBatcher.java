package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Continuous batching: one decode thread runs every admitted sequence one token per step, and
 * sequences join and leave the running batch between any two steps.
 *
 * <p>DESIGN. The running sequences share one batched {@link KvCache}: row b holds sequence b's own keys
 * and values, left-padded to the batch's width, with a per-row mask of which columns are real. A
 * sequence that joins is prefilled on its own cache (together with the others admitted at the same
 * step) and stacked under the running rows after padding the shorter side on the left; a sequence that
 * leaves is dropped by keeping the other rows; leading columns that no row uses any more are trimmed.
 * Positions are per row, so a sequence's tokens are those it would get alone (the tests check it
 * against {@link Generator}). Weight swaps wait for the end of a step and apply before the next one, so
 * a sequence in flight goes on with the new weights and each token reports the version that produced
 * it.
 *
 * <p>Admission is bounded three ways: running sequences, reserved batch tokens (prompt + max new tokens
 * of every running sequence, the KV-memory bound) and the waiting queue; a request beyond the queue is
 * refused at once ({@link Refusal#QUEUE_FULL}) instead of piling up.
 */
public final class ContinuousBatcher implements AutoCloseable {

    /**
     * @param maxRunning     sequences decoded together at most
     * @param maxBatchTokens prompt + max new tokens summed over the running sequences at most
     * @param maxQueued      requests waiting for a slot at most; more are refused
     */
    public record Limits(int maxRunning, int maxBatchTokens, int maxQueued) {
        public Limits {
            if (maxRunning < 1 || maxBatchTokens < 1 || maxQueued < 0) {
                throw new IllegalArgumentException(
                        "limits must be positive: " + maxRunning + ", " + maxBatchTokens + ", " + maxQueued);
            }
        }
    }

    /** Why a request was not accepted. */
    public enum Refusal {
        /** The waiting queue is full: retry later (HTTP 429, gRPC RESOURCE_EXHAUSTED). */
        QUEUE_FULL,
        /** Prompt + max new tokens exceed the model's context or the batch-token limit: never fits. */
        TOO_LONG,
        /** The request itself is malformed (empty prompt, token id outside the vocabulary). */
        INVALID,
        /** The batcher is shutting down. */
        CLOSED
    }

    /** A refused request, with its reason. */
    public static final class RefusedException extends RuntimeException {
        private final Refusal reason;

        RefusedException(Refusal reason, String message) {
            super(message);
            this.reason = reason;
        }

        public Refusal reason() {
            return reason;
        }
    }

    /** How a sequence ended. */
    public enum Finish {
        /** End-of-sequence or a stop token (included), or the listener asked to stop. */
        STOP,
        /** max new tokens reached. */
        LENGTH,
        /** Cancelled by the caller. */
        CANCELLED,
        /** Its deadline passed. */
        DEADLINE,
        /** A failure of the decode step; the message says which. */
        ERROR
    }

    /**
     * Receives one request's tokens, on the decode thread (a request cancelled while queued hears its
     * finish on the cancelling thread): it must not block.
     */
    public interface Listener {
        /** A new token; return false to end the sequence after it (e.g. a stop string matched). */
        boolean onToken(int token, float logprob, long policyVersion);

        /** The sequence ended; called exactly once, after the last {@link #onToken}. */
        void onFinish(Finish finish, String message);
    }

    /** A submitted request. */
    public interface Handle {
        /** Ends the sequence (frees its slot) before its next step; no-op once finished. */
        void cancel();
    }

    /** What a decode step was doing, for metrics. */
    public record Stats(int queued, int running, long generatedTokens, long steps, long version) {}

    private final DecoderModel model;
    private final Limits limits;
    private final int maxContext;
    private final Set<Integer> eos;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Seq> queue = new ArrayDeque<>();
    private final List<Seq> running = new ArrayList<>(); // decode thread only
    private final AtomicLong generated = new AtomicLong();
    private final AtomicLong steps = new AtomicLong();
    private final Thread thread;
    private PendingSwap pendingSwap; // guarded by lock
    private volatile long version;
    private volatile int runningCount;
    private volatile int cacheArrays; // for the leak test: arrays the batch cache holds after a step
    private boolean closed; // guarded by lock
    private KvCache cache; // decode thread only; rows = running
    private int width; // columns of cache

    /** A version to install: what to do to the model, on the decode thread between two steps. */
    private record PendingSwap(long version, Consumer<DecoderModel> installation, CompletableFuture<Long> done) {}

    /**
     * @param model   the decoder (used by the decode thread only from now on)
     * @param version the policy version of the model's current weights
     */
    public ContinuousBatcher(DecoderModel model, long version, Limits limits) {
        this.model = model;
        this.version = version;
        this.limits = limits;
        this.maxContext = model.config().maxPositionEmbeddings();
        this.eos = new HashSet<>(model.config().eosTokenIds());
        this.thread = new Thread(this::loop, "katmesh-decode");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /**
     * Queues a request. The listener hears every token and then the finish.
     *
     * @param deadlineNanos a {@link System#nanoTime()} after which the request ends with
     *                      {@link Finish#DEADLINE}, or 0 for none
     * @throws RefusedException when it cannot be accepted (nothing is called on the listener then)
     */
    public Handle submit(int[] prompt, SamplingParams params, long deadlineNanos, Listener listener) {
        if (prompt.length == 0) {
            throw new RefusedException(Refusal.INVALID, "the prompt has no tokens");
        }
        if (params.maxNewTokens() < 1) {
            throw new RefusedException(Refusal.INVALID, "max new tokens must be at least 1");
        }
        int vocab = model.config().vocabSize();
        for (int id : prompt) {
            if (id < 0 || id >= vocab) {
                throw new RefusedException(
                        Refusal.INVALID, "token id " + id + " lies outside the vocabulary [0, " + vocab + ")");
            }
        }
        long need = (long) prompt.length + params.maxNewTokens();
        if (need > maxContext) {
            throw new RefusedException(
                    Refusal.TOO_LONG,
                    "prompt (" + prompt.length + " tokens) + max new tokens (" + params.maxNewTokens()
                            + ") exceed the model's context of " + maxContext + " tokens");
        }
        if (need > limits.maxBatchTokens()) {
            throw new RefusedException(
                    Refusal.TOO_LONG,
                    "prompt + max new tokens (" + need + ") exceed the batch-token limit " + limits.maxBatchTokens());
        }
        Seq s = new Seq(prompt.clone(), params, deadlineNanos, listener);
        lock.lock();
        try {
            if (closed) {
                throw new RefusedException(Refusal.CLOSED, "the inference engine is shutting down");
            }
            // A burst may fill the free running slots too: those requests wait one step at most.
            if (queue.size() >= limits.maxQueued() + Math.max(0, limits.maxRunning() - runningCount)) {
                throw new RefusedException(
                        Refusal.QUEUE_FULL,
                        "the queue is full (" + limits.maxQueued() + " requests waiting, " + runningCount
                                + " running); retry later");
            }
            queue.add(s);
            work.signalAll();
        } finally {
            lock.unlock();
        }
        return s;
    }

    /**
     * Installs new weights between two decode steps. The future completes with the swap's duration in
     * nanoseconds once the weights serve, or exceptionally when they do not fit the model (the old
     * weights keep serving then).
     */
    public CompletableFuture<Long> swap(long newVersion, Map<String, SafeTensors.Tensor> weights) {
        return install(newVersion, m -> m.setWeights(weights));
    }

    /**
     * As {@link #swap(long, Map)}, from arrays staged in engine memory (copied into the model in place; the caller
     * closes them once the future completes).
     */
    public CompletableFuture<Long> swapStaged(long newVersion, Map<String, NDArray> staged) {
        return install(newVersion, m -> m.copyWeights(staged));
    }

    /**
     * As {@link #swap(long, Map)} for any change of the model that makes it compute {@code newVersion} (new weights,
     * adapters: see {@link ServedAdapters}), run on the decode thread between two steps; a failure leaves the old
     * version serving only if {@code installation} changed nothing before it failed.
     */
    public CompletableFuture<Long> install(long newVersion, Consumer<DecoderModel> installation) {
        CompletableFuture<Long> done = new CompletableFuture<>();
        lock.lock();
        try {
            if (pendingSwap != null) {
                pendingSwap
                        .done()
                        .completeExceptionally(new IllegalStateException("superseded by version " + newVersion));
            }
            pendingSwap = new PendingSwap(newVersion, installation, done);
            work.signalAll();
        } finally {
            lock.unlock();
        }
        return done;
    }

    /** The version the next step decodes with. */
    public long version() {
        return version;
    }

    public Stats stats() {
        lock.lock();
        try {
            return new Stats(queue.size(), runningCount, generated.get(), steps.get(), version);
        } finally {
            lock.unlock();
        }
    }

    public Limits limits() {
        return limits;
    }

    /**
     * Query × key elements (times rows) one prefill chunk may hold: 2M is an 8 MB mask on the heap and, per layer,
     * 8 MB of attention scores per head in native memory, whatever the prompt's length.
     */
    public static final long PREFILL_ELEMENTS = 1L << 21;

    private volatile long prefillElements = PREFILL_ELEMENTS;

    /**
     * Another chunk budget: smaller in tests (short prompts in several chunks), {@code Long.MAX_VALUE} for one pass
     * (what the prefill benchmark compares against). Applies from the next prefill.
     */
    public void prefillElements(long elements) {
        if (elements < 1) {
            throw new IllegalArgumentException("the prefill chunk budget must be positive, got " + elements);
        }
        this.prefillElements = elements;
    }

    /** Arrays the batch's KV cache holds after the last step (bounded: two per layer). */
    int cacheArrays() {
        return cacheArrays;
    }

    // ------------------------------------------------------------------ the decode thread

    private void loop() {
        while (true) {
            List<Seq> admitted;
            PendingSwap swap;
            lock.lock();
            try {
                while (!closed && queue.isEmpty() && running.isEmpty() && pendingSwap == null) {
                    work.awaitUninterruptibly();
                }
                if (closed) {
                    break;
                }
                swap = pendingSwap;
                pendingSwap = null;
                admitted = admit();
                runningCount = running.size() + admitted.size(); // before the lock is released: submit() reads it
            } finally {
                lock.unlock();
            }
            if (swap != null) {
                applySwap(swap);
            }
            try {
                dropEnded();
                if (!admitted.isEmpty()) {
                    prefill(admitted);
                }
                if (!running.isEmpty()) {
                    decode();
                }
            } catch (RuntimeException | OutOfMemoryError e) {
                // A failed step must not take the engine down: end what it was running and start afresh.
                for (Seq s : running) {
                    s.finish(Finish.ERROR, "decode step failed: " + e);
                }
                for (Seq s : admitted) {
                    s.finish(Finish.ERROR, "prefill failed: " + e);
                }
                running.clear();
                resetCache();
            }
            runningCount = running.size();
            cacheArrays = cache == null ? 0 : cache.managedArrays();
        }
        List<Seq> left = new ArrayList<>(running);
        lock.lock();
        try {
            left.addAll(queue);
            queue.clear();
        } finally {
            lock.unlock();
        }
        left.forEach(s -> s.finish(Finish.CANCELLED, "the inference engine shut down"));
        resetCache();
    }

    /** Takes queued requests while the limits allow (lock held). Cancelled or expired ones end here. */
    private List<Seq> admit() {
        List<Seq> out = new ArrayList<>();
        for (Iterator<Seq> it = queue.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.expired()) { // decided once: expiry is time-dependent
                it.remove();
                s.finish(Finish.DEADLINE, "deadline passed while queued");
            }
        }
        long reserved = running.stream().mapToLong(Seq::reservation).sum();
        while (!queue.isEmpty() && running.size() + out.size() < limits.maxRunning()) {
            Seq s = queue.peek();
            if (reserved + s.reservation() > limits.maxBatchTokens()) {
                break; // first come, first served: wait for tokens to free up
            }
            queue.poll();
            reserved += s.reservation();
            out.add(s);
        }
        return out;
    }

    private void applySwap(PendingSwap swap) {
        long t0 = System.nanoTime();
        try {
            swap.installation().accept(model);
            version = swap.version();
            swap.done().complete(System.nanoTime() - t0);
        } catch (RuntimeException e) {
            swap.done().completeExceptionally(e);
        }
    }

    /** Ends cancelled and expired sequences before spending a step on them. */
    private void dropEnded() {
        List<Integer> keep = new ArrayList<>();
        for (int b = 0; b < running.size(); b++) {
            Seq s = running.get(b);
            if (s.cancelled) {
                s.finish(Finish.CANCELLED, "cancelled");
            } else if (s.expired()) {
                s.finish(Finish.DEADLINE, "deadline passed after " + s.produced + " tokens");
            } else {
                keep.add(b);
            }
        }
        keepRows(keep);
    }

    /**
     * Runs the prompts of newly admitted sequences, samples their first tokens and stacks them under the running rows.
     *
     * <p>DESIGN. The prompts run in chunks of query positions, each appending to the new rows' cache, so that no
     * array grows with the square of the prompt: a chunk's mask ([rows][chunk][keys so far], on the heap) and its
     * attention scores ([rows][heads][chunk][keys], native, per layer) stay within {@link #prefillElements}
     * elements whatever the prompt's length. Chunking changes no result: each query sees exactly the keys it saw in
     * one pass (its own row's prompt up to itself), and the keys of earlier chunks come from the cache.
     */
    private void prefill(List<Seq> admitted) {
        int n = admitted.size();
        int w = admitted.stream().mapToInt(s -> s.prompt.length).max().orElseThrow();
        int[] pads = new int[n];
        for (int i = 0; i < n; i++) {
            Seq s = admitted.get(i);
            pads[i] = w - s.prompt.length;
            s.valid = new boolean[Math.max(16, 2 * w)];
            Arrays.fill(s.valid, pads[i], w, true);
            s.nextPosition = s.prompt.length;
        }
        int chunk = (int) Math.max(16, Math.min(w, prefillElements / ((long) n * w)));
        KvCache joined = model.newCache();
        try {
            float[][] logits = null;
            for (int from = 0; from < w; from += chunk) {
                int to = Math.min(w, from + chunk);
                int[][] ids = new int[n][to - from];
                int[][] positions = new int[n][to - from];
                boolean[][][] attend = new boolean[n][to - from][to];
                for (int i = 0; i < n; i++) {
                    int[] prompt = admitted.get(i).prompt;
                    for (int j = from; j < to; j++) {
                        int pad = pads[i];
                        ids[i][j - from] = j < pad ? model.config().padTokenId() : prompt[j - pad];
                        positions[i][j - from] = Math.max(0, j - pad);
                        if (pad <= j) {
                            Arrays.fill(attend[i][j - from], pad, j + 1, true);
                        }
                        attend[i][j - from][j] = true; // pad rows see themselves: no empty softmax rows
                    }
                }
                logits = forward(ids, positions, attend, joined, true);
            }
            // Stack: pad the narrower side on the left so both have the same width.
            if (cache == null || running.isEmpty()) {
                resetCache();
                cache = model.newCache();
                width = 0;
            }
            if (w > width) {
                shiftRunning(w - width);
            } else if (w < width) {
                joined.padLeft(width - w);
                for (Seq s : admitted) {
                    s.shift(width - w, w);
                }
            }
            cache.appendRows(joined);
            width = Math.max(width, w);
            running.addAll(admitted);
            // Their first tokens come from the prompt's last position.
            List<Integer> keep = new ArrayList<>();
            int base = running.size() - n;
            for (int b = 0; b < base; b++) {
                keep.add(b);
            }
            for (int i = 0; i < n; i++) {
                if (sampleInto(admitted.get(i), logits[i])) {
                    keep.add(base + i);
                }
            }
            keepRows(keep);
        } finally {
            joined.close();
        }
    }

    /** One token for every running sequence. */
    private void decode() {
        int n = running.size();
        int[][] ids = new int[n][1];
        int[][] positions = new int[n][1];
        boolean[][][] attend = new boolean[n][1][];
        for (int b = 0; b < n; b++) {
            Seq s = running.get(b);
            ids[b][0] = s.pending;
            positions[b][0] = s.nextPosition++;
            s.ensure(width + 1);
            s.valid[width] = true;
            attend[b][0] = Arrays.copyOf(s.valid, width + 1);
        }
        float[][] logits = forward(ids, positions, attend, cache, false);
        width++;
        steps.incrementAndGet();
        List<Integer> keep = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            if (sampleInto(running.get(b), logits[b])) {
                keep.add(b);
            }
        }
        keepRows(keep);
    }

    /** Samples a sequence's next token and tells its listener; false when the sequence ended. */
    private boolean sampleInto(Seq s, float[] logits) {
        Sampler.Sample next = s.sampler.next(logits);
        s.produced++;
        generated.incrementAndGet();
        boolean more;
        try {
            more = s.listener.onToken(next.token(), next.logprob(), version);
        } catch (RuntimeException e) {
            s.finish(Finish.ERROR, "listener failed: " + e);
            return false;
        }
        if (!more || eos.contains(next.token()) || s.params.stopTokenIds().contains(next.token())) {
            s.finish(Finish.STOP, "stop");
            return false;
        }
        if (s.produced >= s.params.maxNewTokens()) {
            s.finish(Finish.LENGTH, "length");
            return false;
        }
        s.pending = next.token();
        return true;
    }

    /** Keeps the given rows of the running batch (and its cache), then trims columns no row uses. */
    private void keepRows(List<Integer> keep) {
        if (keep.size() == running.size()) {
            return;
        }
        List<Seq> kept = new ArrayList<>();
        for (int b : keep) {
            kept.add(running.get(b));
        }
        running.clear();
        running.addAll(kept);
        if (running.isEmpty()) {
            resetCache();
            return;
        }
        cache.keepRows(keep.stream().mapToInt(Integer::intValue).toArray());
        int unused = width;
        for (Seq s : running) {
            int first = 0;
            while (first < width && !s.valid[first]) {
                first++;
            }
            unused = Math.min(unused, first);
        }
        if (unused > 0) {
            cache.dropLeft(unused);
            for (Seq s : running) {
                s.valid = Arrays.copyOfRange(s.valid, unused, s.valid.length);
            }
            width -= unused;
        }
    }

    /** Pads the running rows on the left by {@code n} columns. */
    private void shiftRunning(int n) {
        if (width > 0) {
            cache.padLeft(n);
        }
        for (Seq s : running) {
            s.shift(n, width);
        }
    }

    private void resetCache() {
        if (cache != null) {
            cache.close();
            cache = null;
        }
        width = 0;
    }

    private float[][] forward(int[][] ids, int[][] positions, boolean[][][] attend, KvCache kv, boolean prefill) {
        return Generator.lastLogits(model, ids, positions, attend, kv, prefill);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One request's state. Fields other than {@code cancelled} belong to the decode thread. */
    private final class Seq implements Handle {
        final int[] prompt;
        final SamplingParams params;
        final long deadline;
        final Listener listener;
        final Sampler sampler;
        volatile boolean cancelled;
        final AtomicBoolean finished = new AtomicBoolean();
        boolean[] valid; // which cache columns are this sequence's
        int nextPosition;
        int pending; // sampled, not yet in the cache
        int produced;

        Seq(int[] prompt, SamplingParams params, long deadline, Listener listener) {
            this.prompt = prompt;
            this.params = params;
            this.deadline = deadline;
            this.listener = listener;
            this.sampler = new Sampler(params);
        }

        long reservation() {
            return (long) prompt.length + params.maxNewTokens();
        }

        boolean expired() {
            return deadline != 0 && System.nanoTime() - deadline > 0;
        }

        void ensure(int columns) {
            if (valid.length < columns) {
                valid = Arrays.copyOf(valid, Math.max(columns, 2 * valid.length));
            }
        }

        /** Moves this row's first {@code used} columns right by {@code n}. */
        void shift(int n, int used) {
            boolean[] moved = new boolean[Math.max(valid.length, used + n + 16)];
            System.arraycopy(valid, 0, moved, n, used);
            valid = moved;
        }

        void finish(Finish how, String message) {
            if (finished.compareAndSet(false, true)) {
                try {
                    listener.onFinish(how, message);
                } catch (RuntimeException e) {
                    // A listener's failure is its caller's problem; the decode thread must go on.
                }
            }
        }

        @Override
        public void cancel() {
            cancelled = true;
            lock.lock();
            try {
                if (queue.remove(this)) {
                    finish(Finish.CANCELLED, "cancelled while queued"); // frees its queue place at once
                }
                work.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }
}
