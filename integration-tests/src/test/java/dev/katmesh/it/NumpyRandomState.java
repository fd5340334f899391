package dev.katmesh.it;

/**
 * numpy's legacy generator, {@code np.random.RandomState(seed).standard_normal}: MT19937 seeded as numpy seeds it
 * from an integer, 53-bit doubles from two draws, and the polar Box-Muller method with its cached second value.
 * The real-shape references were computed by transformers for weights drawn this way; drawing them here lets the
 * test make the 1.2 GB checkpoint instead of storing it.
 */
final class NumpyRandomState {

    private static final int N = 624;
    private static final int M = 397;

    private final int[] key = new int[N];
    private int pos;
    private boolean hasGauss;
    private double gauss;

    NumpyRandomState(long seed) {
        long s = seed & 0xffffffffL;
        for (int i = 0; i < N; i++) {
            key[i] = (int) s;
            s = (1812433253L * (s ^ (s >>> 30)) + i + 1) & 0xffffffffL;
        }
        pos = N;
    }

    private int next32() {
        if (pos == N) {
            twist();
        }
        int y = key[pos++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (key[i] & 0x80000000) | (key[(i + 1) % N] & 0x7fffffff);
            key[i] = key[(i + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? 0x9908b0df : 0);
        }
        pos = 0;
    }

    /** random_sample(): (a >> 5, b >> 6) as a 53-bit fraction. */
    double nextDouble() {
        long a = Integer.toUnsignedLong(next32()) >>> 5;
        long b = Integer.toUnsignedLong(next32()) >>> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    /** standard_normal(): legacy_gauss. */
    double nextGaussian() {
        if (hasGauss) {
            hasGauss = false;
            return gauss;
        }
        double x1;
        double x2;
        double r2;
        do {
            x1 = 2.0 * nextDouble() - 1.0;
            x2 = 2.0 * nextDouble() - 1.0;
            r2 = x1 * x1 + x2 * x2;
        } while (r2 >= 1.0 || r2 == 0.0);
        double f = Math.sqrt(-2.0 * StrictMath.log(r2) / r2);
        gauss = f * x1;
        hasGauss = true;
        return f * x2;
    }
}
