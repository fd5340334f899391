package dev.katmesh.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Arrays made from Java data whose memory libtorch owns.
 *
 * <p>DESIGN: on the PyTorch engine, an array made from Java data wraps a direct buffer, and an
 * arithmetic op with a Java number ({@code x.mul(0.125)}) wraps the number the same way. When autograd
 * saves such an operand for the backward pass (mul saves the other factor), its memory can be
 * collected by the JVM before backward runs: gradients then came out zero or wrong, depending on
 * garbage collection timing (reproduced by TreeTrainingTest and DecoderModelTest with a System.gc()
 * between forward and backward). Differentiable code therefore uses {@link #scalar} instead of Java
 * numbers in products, and {@link #of} for inputs: a clone owned by libtorch, one small copy per step.
 */
public final class Tensors {

    private Tensors() {}

    public static NDArray of(NDManager scope, float[] data, Shape shape) {
        return owned(scope, scope.create(data, shape));
    }

    public static NDArray of(NDManager scope, long[] data, Shape shape) {
        return owned(scope, scope.create(data, shape));
    }

    /** A 0-dimensional float array, owned by libtorch, for products in differentiable code. */
    public static NDArray scalar(NDManager scope, float value) {
        return of(scope, new float[] {value}, new Shape());
    }

    /**
     * Overwrites {@code target} in place with {@code data}, through a libtorch-owned copy and an
     * in-place indexed copy, so that swapped weights live in libtorch memory like the rest of the
     * model. ({@code target.set(float[])} would re-point the tensor at a Java direct buffer that only
     * the array object keeps alive.)
     */
    public static void assign(NDArray target, float[] data) {
        try (NDManager tmp = target.getManager().newSubManager()) {
            NDArray src = of(tmp, data, target.getShape());
            target.set(new NDIndex("..."), src);
        }
    }

    private static NDArray owned(NDManager scope, NDArray wrapped) {
        NDArray copy = wrapped.duplicate();
        copy.attach(scope);
        wrapped.close();
        return copy;
    }
}
