package dev.katmesh.inference;

import dev.katmesh.policy.ContinuousBatcher;
import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.policy.IncrementalDecoder;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.json.ToolCallSyntax;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One generation seen as text, for both APIs: incremental detokenization (never a split UTF-8
 * character), stop strings (cut from the text, never streamed in part), the hold-back of text that
 * may become a tool call, and the timing metrics. Callbacks run on the decode thread.
 */
final class Completion implements ContinuousBatcher.Listener {

    /** What a caller hears. */
    interface Observer {
        /** One new token, and the text it made streamable (often empty). */
        void onToken(Completion c, int token, float logprob, long version, String textDelta);

        /** The generation ended; {@link #finish()} says how. */
        void onDone(Completion c);
    }

    private final IncrementalDecoder decoder;
    private final ServingMetrics metrics;
    private final int[] prompt;
    private final SamplingParams params;
    private final List<String> stops;
    private final boolean holdToolCalls;
    private final Observer observer;
    private final Set<Integer> ending = new HashSet<>();
    private int[] tokens = new int[16];
    private float[] logprobs = new float[16];
    private long[] versions = new long[16];
    private int count;
    private int textTokens; // tokens that make text (all but a final end-of-sequence / stop token)
    private String text = "";
    private int streamed; // chars of text already handed out
    private long started;
    private long lastToken;
    private volatile Finish finish;
    private volatile String message;
    private volatile String matchedStop;
    private ContinuousBatcher.Handle handle;
    private volatile boolean cancelledByCaller;

    Completion(
            PolicyServer server,
            ServingMetrics metrics,
            int[] prompt,
            SamplingParams params,
            List<String> stops,
            boolean holdToolCalls,
            Observer observer) {
        this.decoder = new IncrementalDecoder(server.model().tokenizer());
        this.metrics = metrics;
        this.prompt = prompt;
        this.params = params;
        this.stops = List.copyOf(stops);
        this.holdToolCalls = holdToolCalls;
        this.observer = observer;
        this.ending.addAll(server.model().config().eosTokenIds());
        this.ending.addAll(params.stopTokenIds());
    }

    /** Submits to the batcher; throws {@link ContinuousBatcher.RefusedException} when refused. */
    Completion start(PolicyServer server, long deadlineNanos) {
        started = System.nanoTime();
        handle = server.submit(prompt, params, deadlineNanos, this);
        return this;
    }

    void cancel() {
        cancelledByCaller = true;
        if (handle != null) {
            handle.cancel();
        }
    }

    @Override
    public boolean onToken(int token, float logprob, long version) {
        long now = System.nanoTime();
        metrics.token(count == 0 ? now - started : -1, count == 0 ? -1 : now - lastToken);
        lastToken = now;
        if (count == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * count);
            logprobs = Arrays.copyOf(logprobs, 2 * count);
            versions = Arrays.copyOf(versions, 2 * count);
        }
        tokens[count] = token;
        logprobs[count] = logprob;
        versions[count] = version;
        count++;
        boolean more = true;
        if (!ending.contains(token)) {
            textTokens = count;
            int unchanged = decoder.settledLength(); // text before this cannot hold a new stop string
            text = decoder.add(token);
            for (String stop : stops) {
                int at = text.indexOf(stop, Math.max(0, unchanged - stop.length() + 1));
                if (at >= 0) {
                    text = text.substring(0, at);
                    matchedStop = stop;
                    more = false;
                }
            }
        }
        int safe = more ? streamable() : text.length();
        String delta = "";
        if (safe > streamed) {
            delta = text.substring(streamed, safe);
            streamed = safe;
        }
        observer.onToken(this, token, logprob, version, delta);
        return more;
    }

    /** Text that cannot change any more: no split character, no partial stop string, no possible tool call. */
    private int streamable() {
        int safe = text.length();
        while (safe > 0 && text.charAt(safe - 1) == '\uFFFD') {
            safe--;
        }
        for (String stop : stops) {
            for (int k = Math.min(stop.length() - 1, safe); k > 0; k--) {
                if (text.regionMatches(safe - k, stop, 0, k)) {
                    safe = Math.min(safe, text.length() - k);
                    break;
                }
            }
        }
        if (holdToolCalls) {
            safe = Math.min(safe, ToolCallSyntax.contentPrefix(text));
        }
        return Math.max(safe, streamed);
    }

    @Override
    public void onFinish(Finish how, String why) {
        this.message = why;
        this.finish = how;
        metrics.finished(how);
        observer.onDone(this);
    }

    int[] prompt() {
        return prompt;
    }

    int[] tokens() {
        return Arrays.copyOf(tokens, count);
    }

    float[] logprobs() {
        return Arrays.copyOf(logprobs, count);
    }

    long[] versions() {
        return Arrays.copyOf(versions, count);
    }

    int count() {
        return count;
    }

    /** The whole text (stop string cut), special tokens of the answer included as the model wrote them. */
    String text() {
        return text;
    }

    /** Text not yet handed out by {@link Observer#onToken} (what tool-call parsing held back). */
    String unstreamed() {
        return text.substring(Math.min(streamed, text.length()));
    }

    /** The stop string that ended the generation, or null (an end-of-sequence token, the length, a failure). */
    String matchedStop() {
        return matchedStop;
    }

    /** The caller cancelled (its client went away): nobody is listening for an error. */
    boolean cancelledByCaller() {
        return cancelledByCaller;
    }

    Finish finish() {
        return finish;
    }

    String message() {
        return message;
    }

    /** The version that produced the last token (the serving version when none). */
    long lastVersion(long serving) {
        return count == 0 ? serving : versions[count - 1];
    }
}
