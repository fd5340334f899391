package dev.katmesh.launcher.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Continuous batching measured side by side in one run: the same requests served one at a time, then
 * by 1, 4 and 16 concurrent streams (each stream sends its next request when the previous one ends),
 * with the time to first token under the heaviest load. Each configuration runs {@code repeats} times,
 * alternating, and the median is kept.
 */
public final class ServingBenchmark {

    private final ContinuousBatcher batcher;
    private final List<int[]> prompts = new ArrayList<>();
    private final int newTokens;

    public ServingBenchmark(ContinuousBatcher batcher, int requests, int promptTokens, int newTokens, int vocab) {
        this.batcher = batcher;
        this.newTokens = newTokens;
        SplittableRandom r = new SplittableRandom(11);
        for (int i = 0; i < requests; i++) {
            prompts.add(r.ints(promptTokens + (i % 4) * 8L, 3, vocab).toArray());
        }
    }

    /** What one configuration measured. */
    public record Run(double tokensPerS, double[] ttftMs, double[] interTokenMs) {}

    /** Serves every request with at most {@code streams} in flight. */
    public Run serve(int streams) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger tokens = new AtomicInteger();
        ConcurrentLinkedQueue<Double> ttft = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Double> itl = new ConcurrentLinkedQueue<>();
        List<Thread> workers = new ArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        long t0 = System.nanoTime();
        for (int w = 0; w < streams; w++) {
            Thread t = new Thread(() -> {
                for (int i; (i = next.getAndIncrement()) < prompts.size(); ) {
                    try {
                        one(i, tokens, ttft, itl);
                    } catch (Exception e) {
                        failures.add(e);
                        return;
                    }
                }
            });
            t.start();
            workers.add(t);
        }
        for (Thread t : workers) {
            t.join();
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("a benchmark request failed", failures.get(0));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return new Run(
                tokens.get() / seconds,
                ttft.stream().mapToDouble(Double::doubleValue).toArray(),
                itl.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private void one(int i, AtomicInteger tokens, ConcurrentLinkedQueue<Double> ttft, ConcurrentLinkedQueue<Double> itl)
            throws Exception {
        CompletableFuture<ContinuousBatcher.Finish> done = new CompletableFuture<>();
        long submitted = System.nanoTime();
        long[] last = {0};
        batcher.submit(
                prompts.get(i),
                new SamplingParams(newTokens, 1f, 0, 1f, i, Set.of()),
                0,
                new ContinuousBatcher.Listener() {
                    @Override
                    public boolean onToken(int token, float logprob, long version) {
                        long now = System.nanoTime();
                        if (last[0] == 0) {
                            ttft.add((now - submitted) / 1e6);
                        } else {
                            itl.add((now - last[0]) / 1e6);
                        }
                        last[0] = now;
                        tokens.incrementAndGet();
                        return true;
                    }

                    @Override
                    public void onFinish(ContinuousBatcher.Finish finish, String message) {
                        done.complete(finish);
                    }
                });
        ContinuousBatcher.Finish f = done.get(10, TimeUnit.MINUTES);
        if (f != ContinuousBatcher.Finish.LENGTH && f != ContinuousBatcher.Finish.STOP) {
            throw new IllegalStateException("request " + i + " ended with " + f);
        }
    }

    /** The report: sequential vs concurrent tokens/s and TTFT under load, as JSON. */
    public static ObjectNode run(
            DecoderModel model, int requests, int promptTokens, int newTokens, int[] streams, int repeats)
            throws Exception {
        ObjectNode out = new ObjectMapper().createObjectNode();
        try (ContinuousBatcher batcher = new ContinuousBatcher(
                model,
                0,
                new ContinuousBatcher.Limits(Arrays.stream(streams).max().orElse(16), 1 << 20, requests))) {
            ServingBenchmark b = new ServingBenchmark(
                    batcher, requests, promptTokens, newTokens, model.config().vocabSize());
            b.serve(4); // warm-up
            double[] sequential = new double[repeats];
            double[][] concurrent = new double[streams.length][repeats];
            List<Double> ttft = new ArrayList<>();
            List<Double> itl = new ArrayList<>();
            int heaviest = Arrays.stream(streams).max().orElse(16);
            for (int r = 0; r < repeats; r++) {
                sequential[r] = b.serve(1).tokensPerS();
                for (int s = 0; s < streams.length; s++) {
                    Run run = b.serve(streams[s]);
                    concurrent[s][r] = run.tokensPerS();
                    if (streams[s] == heaviest) {
                        Arrays.stream(run.ttftMs()).forEach(ttft::add);
                        Arrays.stream(run.interTokenMs()).forEach(itl::add);
                    }
                }
            }
            out.put("requests", requests);
            out.put("prompt_tokens", promptTokens);
            out.put("new_tokens", newTokens);
            out.put("repeats", repeats);
            double seq = Measurements.median(sequential);
            out.put("sequential_tokens_per_s", Measurements.round(seq));
            ArrayNode rows = out.putArray("concurrent");
            for (int s = 0; s < streams.length; s++) {
                double tps = Measurements.median(concurrent[s]);
                rows.addObject()
                        .put("streams", streams[s])
                        .put("tokens_per_s", Measurements.round(tps))
                        .put("speedup", Measurements.round(tps / seq));
            }
            ObjectNode load = out.putObject("under_load");
            load.put("streams", heaviest);
            double[] t = ttft.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] g = itl.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            load.put("ttft_p50_ms", Measurements.round(percentile(t, 0.5)));
            load.put("ttft_p99_ms", Measurements.round(percentile(t, 0.99)));
            load.put("inter_token_p50_ms", Measurements.round(percentile(g, 0.5)));
            load.put("inter_token_p99_ms", Measurements.round(percentile(g, 0.99)));
        }
        return out;
    }

    /** The q-quantile of sorted values (nearest rank). */
    public static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank))];
    }
}
