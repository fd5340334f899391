package dev.katmesh.tasks;

import java.util.Locale;

/**
 * A pass rate with its 95% interval: {@code passed} of {@code total} tasks. Wilson's score interval
 * (Wilson 1927), which stays inside [0, 1] and is honest at 0 of n; the difference of two rates with
 * Newcombe's hybrid score interval (Newcombe 1998, method 10), built from the two Wilson intervals.
 * docs/algorithms.md#pass-rates-and-their-intervals has the formulas.
 */
public record PassRate(int passed, int total) {

    /** z for a two-sided 95% interval. */
    static final double Z = 1.959963984540054;

    public PassRate {
        if (passed < 0 || total < 0 || passed > total) {
            throw new IllegalArgumentException("passed " + passed + " of " + total);
        }
    }

    public double rate() {
        return total == 0 ? Double.NaN : (double) passed / total;
    }

    /** Wilson's interval {low, high}; {0, 1} without tasks. */
    public double[] interval() {
        if (total == 0) {
            return new double[] {0, 1};
        }
        double n = total;
        double p = passed / n;
        double z2 = Z * Z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = Z / (1 + z2 / n) * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return new double[] {Math.max(0, centre - half), Math.min(1, centre + half)};
    }

    /** Whether this rate is above {@code other} beyond both intervals (this one's low end over the other's high end). */
    public boolean aboveBeyondIntervals(PassRate other) {
        return total > 0 && other.total > 0 && interval()[0] > other.interval()[1];
    }

    /** {difference, low, high}: this rate minus {@code other}, with Newcombe's 95% interval. */
    public double[] minus(PassRate other) {
        double p1 = rate();
        double p2 = other.rate();
        double[] a = interval();
        double[] b = other.interval();
        double d = p1 - p2;
        double low = d - Math.sqrt(Math.pow(p1 - a[0], 2) + Math.pow(b[1] - p2, 2));
        double high = d + Math.sqrt(Math.pow(a[1] - p1, 2) + Math.pow(p2 - b[0], 2));
        return new double[] {d, Math.max(-1, low), Math.min(1, high)};
    }

    public PassRate plus(PassRate o) {
        return new PassRate(passed + o.passed, total + o.total);
    }

    /** "31.7% (19/60, 95% CI 21.3–44.2%)". */
    @Override
    public String toString() {
        double[] ci = interval();
        return String.format(
                Locale.ROOT,
                "%.1f%% (%d/%d, 95%% CI %.1f–%.1f%%)",
                100 * rate(),
                passed,
                total,
                100 * ci[0],
                100 * ci[1]);
    }
}
