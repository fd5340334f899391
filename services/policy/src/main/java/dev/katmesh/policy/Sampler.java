package dev.katmesh.policy;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits and reports its log-prob.
 *
 * <p>The log-prob is that of the distribution the token was drawn from before truncation:
 * log_softmax(logits / temperature) (temperature 1 for greedy). That is the behaviour policy a
 * learner's importance ratio needs when it scores the same tokens at the same temperature; top-k and
 * top-p only restrict which tokens may be drawn.
 */
public final class Sampler {

    /** A drawn token and its log-prob. */
    public record Sample(int token, float logprob) {}

    private final SamplingParams params;
    private final SplittableRandom random;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
    }

    public Sample next(float[] logits) {
        float t = params.isGreedy() ? 1f : params.temperature();
        int v = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        int argmax = 0;
        for (int i = 0; i < v; i++) {
            if (logits[i] > max) {
                max = logits[i];
                argmax = i;
            }
        }
        double[] p = new double[v];
        double sum = 0;
        for (int i = 0; i < v; i++) {
            p[i] = Math.exp((logits[i] - max) / t);
            sum += p[i];
        }
        double logSum = Math.log(sum);
        if (params.isGreedy()) {
            return new Sample(argmax, (float) ((logits[argmax] - max) / t - logSum));
        }
        int token = draw(p, sum);
        return new Sample(token, (float) ((logits[token] - max) / t - logSum));
    }

    /** Draws from unnormalised probabilities p (sum given) after top-k and top-p truncation. */
    private int draw(double[] p, double sum) {
        int v = p.length;
        boolean truncate = (params.topK() > 0 && params.topK() < v) || params.topP() < 1f;
        if (!truncate) {
            double u = random.nextDouble() * sum;
            for (int i = 0; i < v; i++) {
                u -= p[i];
                if (u <= 0) {
                    return i;
                }
            }
            return v - 1;
        }
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        // Ties break by token id, so the order (and the draw) is the same on every run.
        Arrays.sort(order, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = params.topK() > 0 ? Math.min(params.topK(), v) : v;
        if (params.topP() < 1f) {
            double mass = 0;
            for (int i = 0; i < keep; i++) {
                mass += p[order[i]] / sum;
                if (mass >= params.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        double kept = 0;
        for (int i = 0; i < keep; i++) {
            kept += p[order[i]];
        }
        double u = random.nextDouble() * kept;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }
}
