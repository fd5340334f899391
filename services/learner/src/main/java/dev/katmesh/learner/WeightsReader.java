package dev.katmesh.learner;

import dev.katmesh.policy.SafeTensors;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A checkpoint's tensors as the Weights stream sends them: name, shape, little-endian F32 bytes, in file order. */
final class WeightsReader {

    record Tensor(String name, long[] shape, byte[] bytes) {}

    private WeightsReader() {}

    static List<Tensor> tensors(Path checkpoint) {
        List<Tensor> out = new ArrayList<>();
        for (Map.Entry<String, SafeTensors.Tensor> e :
                SafeTensors.read(checkpoint.resolve("model.safetensors")).entrySet()) {
            float[] data = e.getValue().data();
            ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(data);
            out.add(new Tensor(e.getKey(), e.getValue().shape(), b.array()));
        }
        return out;
    }
}
