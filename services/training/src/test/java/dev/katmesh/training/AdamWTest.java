package dev.katmesh.training;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW's update against the textbook formulas, computed here in doubles. */
class AdamWTest {

    @Test
    void twoClippedStepsMatchTheTextbookUpdateWithDecoupledDecay() {
        double[] w0 = {0.5, -1.0, 2.0};
        double[][] grads = {{3.0, -4.0, 0.0}, {0.1, 0.2, -0.3}}; // the first step's norm 5 is clipped to 1
        AdamW.Settings s = new AdamW.Settings(0.01, 0.9, 0.999, 1e-8, 0.1, 1.0);
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray p = manager.create(toFloats(w0));
            p.setRequiresGradient(true);
            Map<String, NDArray> params = new LinkedHashMap<>();
            params.put("layer.weight", p);
            AdamW adam = new AdamW(params, s);
            double[] w = w0.clone();
            double[] m = new double[3];
            double[] v = new double[3];
            for (int t = 1; t <= grads.length; t++) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.zeroGradients();
                    gc.backward(p.mul(manager.create(toFloats(grads[t - 1]))).sum()); // ∂/∂p = the gradient
                }
                double norm = Math.sqrt(dot(grads[t - 1], grads[t - 1]));
                double clip = norm > 1.0 ? 1.0 / (norm + 1e-6) : 1.0;
                double lr = 0.01 * 0.5;
                for (int i = 0; i < 3; i++) {
                    double g = grads[t - 1][i] * clip;
                    m[i] = 0.9 * m[i] + 0.1 * g;
                    v[i] = 0.999 * v[i] + 0.001 * g * g;
                    double mHat = m[i] / (1 - Math.pow(0.9, t));
                    double vHat = v[i] / (1 - Math.pow(0.999, t));
                    w[i] = w[i] * (1 - lr * 0.1) - lr * mHat / (Math.sqrt(vHat) + 1e-8);
                }
                assertEquals(norm, adam.update(0.5), 1e-5, "the global gradient norm before clipping");
                float[] got = p.toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertEquals(w[i], got[i], 1e-6, "step " + t + ", weight " + i);
                }
            }
        }
    }

    private static float[] toFloats(double[] xs) {
        float[] f = new float[xs.length];
        for (int i = 0; i < xs.length; i++) {
            f[i] = (float) xs[i];
        }
        return f;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
