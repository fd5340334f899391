package dev.katmesh.launcher.bench;

import java.util.Arrays;

/** Small helpers the benchmarks share: medians of repeated measurements, rounding for reports. */
public final class Measurements {

    private Measurements() {}

    public static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** Rounded to two decimals, for JSON reports. */
    public static double round(double x) {
        return Math.round(x * 100) / 100.0;
    }
}
