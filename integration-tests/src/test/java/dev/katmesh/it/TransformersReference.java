package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What transformers computed for a seeded checkpoint (reference.json and reference.safetensors, written by
 * src/test/python/real_shape_references.py), and the checks of a loaded model against it.
 */
record TransformersReference(JsonNode json, Map<String, SafeTensors.Tensor> tensors) {

    static final ObjectMapper JSON = new ObjectMapper();

    static TransformersReference read(Path dir) throws IOException {
        return new TransformersReference(
                JSON.readTree(dir.resolve("reference.json").toFile()),
                SafeTensors.read(dir.resolve("reference.safetensors")));
    }

    /** Token ids and decodings of the reference's texts. */
    int assertEncodings(PolicyModel model) {
        for (JsonNode e : json.path("encodings")) {
            String text = e.path("text").asText();
            int[] ids = model.tokenizer().encode(text);
            assertArrayEquals(ints(e.path("ids")), ids, "ids of " + text);
            assertEquals(e.path("decoded").asText(), model.tokenizer().decode(ids), "decoded " + text);
        }
        return json.path("encodings").size();
    }

    /** Chat renderings (with the template variables transformers was given) and their ids. */
    @SuppressWarnings("unchecked")
    int assertChats(PolicyModel model) {
        for (JsonNode chat : json.path("chats")) {
            List<Map<String, Object>> messages = JSON.convertValue(chat.path("messages"), List.class);
            List<Map<String, Object>> tools =
                    chat.path("tools").isNull() ? null : JSON.convertValue(chat.path("tools"), List.class);
            Map<String, Object> kwargs =
                    chat.has("kwargs") ? JSON.convertValue(chat.get("kwargs"), Map.class) : Map.of();
            String text = model.chatTemplate().render(messages, tools, true, kwargs);
            assertEquals(chat.path("text").asText(), text, "rendering with " + kwargs);
            assertArrayEquals(ints(chat.path("ids")), model.tokenizer().encode(text), "ids of " + text);
        }
        return json.path("chats").size();
    }

    /** Greedy continuations, last-position logits and teacher-forced log-probs, each within {@code tolerance}. */
    void assertSequences(PolicyModel model, float tolerance) {
        JsonNode sequences = json.path("sequences");
        assertTrue(sequences.size() > 0, "the reference has sequences");
        for (int i = 0; i < sequences.size(); i++) {
            JsonNode seq = sequences.get(i);
            int[] prompt = ints("input_ids_" + i);
            assertArrayEquals(
                    prompt, model.tokenizer().encode(seq.path("prompt").asText()), "prompt " + i);
            int[] expected = ints(seq.path("greedy_new_ids"));
            Generation g = model.generate(prompt, SamplingParams.greedy(expected.length));
            assertArrayEquals(expected, g.tokens(), "greedy continuation of prompt " + i);
            float[][] logits = model.logits(prompt);
            float logitDiff = maxAbsDiff(tensors.get("last_logits_" + i).data(), logits[logits.length - 1]);
            int[] all = ints("greedy_ids_" + i);
            float logProbDiff =
                    maxAbsDiff(tensors.get("greedy_token_logprobs_" + i).data(), model.score(all));
            System.out.printf(
                    "%s sequence %d (%d tokens): max |logit - transformers| %.2e, max |log-prob - transformers| %.2e%n",
                    json.path("model").asText(), i, all.length, logitDiff, logProbDiff);
            assertTrue(logitDiff < tolerance, "last-position logits of prompt " + i + " differ by " + logitDiff);
            assertTrue(
                    logProbDiff < tolerance, "teacher-forced log-probs of sequence " + i + " differ by " + logProbDiff);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    int[] ints(String tensor) {
        float[] f = tensors.get(tensor).data();
        int[] out = new int[f.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) f[i];
        }
        return out;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length, "lengths");
        float max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }
}
