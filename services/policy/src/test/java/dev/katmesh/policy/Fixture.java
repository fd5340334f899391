package dev.katmesh.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;

/** The tiny Qwen3 made by Hugging Face transformers 5.17, with its reference outputs. */
final class Fixture {

    static final Path DIR;
    static final JsonNode REFERENCE;
    static final Map<String, SafeTensors.Tensor> TENSORS;

    static {
        try {
            DIR = Path.of(Fixture.class
                            .getResource("/hf/qwen3-tiny/config.json")
                            .toURI())
                    .getParent();
            REFERENCE =
                    new ObjectMapper().readTree(DIR.resolve("reference.json").toFile());
            TENSORS = SafeTensors.read(DIR.resolve("reference.safetensors"));
        } catch (IOException | URISyntaxException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Fixture() {}

    static int[] ints(String tensor) {
        float[] f = TENSORS.get(tensor).data();
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = (int) f[i];
        }
        return out;
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static float[] flat(float[][] rows) {
        int n = 0;
        for (float[] r : rows) {
            n += r.length;
        }
        float[] out = new float[n];
        int o = 0;
        for (float[] r : rows) {
            System.arraycopy(r, 0, out, o, r.length);
            o += r.length;
        }
        return out;
    }
}
