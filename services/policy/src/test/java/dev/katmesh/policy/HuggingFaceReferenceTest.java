package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Our loader, tokenizer, chat template and forward against what transformers produced for the fixture. */
class HuggingFaceReferenceTest {

    static PolicyModel model;

    @BeforeAll
    static void load() {
        model = PolicyModel.load(Fixture.DIR, Device.cpu());
    }

    @AfterAll
    static void close() {
        model.close();
    }

    @Test
    void readsRopeThetaFromRopeParameters() {
        assertEquals(10_000.0, model.config().ropeTheta());
        assertEquals(ModelConfig.QWEN3, model.config().architecture());
        assertTrue(model.config().tieWordEmbeddings() && model.config().qkNorm());
    }

    @Test
    void tokenizesAndDecodesEveryReferenceString() {
        for (JsonNode e : Fixture.REFERENCE.path("encodings")) {
            String text = e.path("text").asText();
            int[] ids = model.tokenizer().encode(text);
            assertArrayEquals(Fixture.ints(e.path("ids")), ids, "ids of " + text);
            assertEquals(e.path("decoded").asText(), model.tokenizer().decode(ids), "decoded " + text);
        }
    }

    @Test
    void rendersTheChatTemplateAsTransformersDoes() throws Exception {
        ObjectMapper json = new ObjectMapper();
        for (JsonNode chat : Fixture.REFERENCE.path("chats")) {
            List<Map<String, Object>> messages = json.convertValue(chat.path("messages"), List.class);
            List<Map<String, Object>> tools =
                    chat.path("tools").isNull() ? null : json.convertValue(chat.path("tools"), List.class);
            assertEquals(chat.path("text").asText(), model.render(messages, tools, true));
        }
        // reference.json's chat "ids" hold no ids; the tool chat's ids are input_ids_2 (its text is sequence 2's
        // prompt).
        String toolChat = Fixture.REFERENCE.path("chats").get(1).path("text").asText();
        assertEquals(Fixture.REFERENCE.path("sequences").get(2).path("prompt").asText(), toolChat);
        assertArrayEquals(Fixture.ints("input_ids_2"), model.tokenizer().encode(toolChat));
    }

    @Test
    void logitsMatchWithin1e4ForAllThreePrompts() {
        for (int i = 0; i < 3; i++) {
            int[] ids = Fixture.ints("input_ids_" + i);
            float diff = Fixture.maxAbsDiff(Fixture.TENSORS.get("logits_" + i).data(), Fixture.flat(model.logits(ids)));
            assertTrue(diff < 1e-4, "prompt " + i + ": max |logit - reference| = " + diff);
        }
    }

    @Test
    void greedyContinuationsAreIdentical() {
        for (int i = 0; i < 3; i++) {
            JsonNode seq = Fixture.REFERENCE.path("sequences").get(i);
            int[] prompt = Fixture.ints("input_ids_" + i);
            int[] expected = Fixture.ints(seq.path("greedy_new_ids"));
            Generation g = model.generate(prompt, SamplingParams.greedy(expected.length));
            assertArrayEquals(expected, g.tokens(), "greedy continuation of prompt " + i);
            int[] all = Fixture.ints("greedy_ids_" + i);
            assertArrayEquals(all, concat(prompt, g.tokens()));
            float diff = Fixture.maxAbsDiff(
                    Fixture.TENSORS.get("greedy_token_logprobs_" + i).data(), model.score(all));
            assertTrue(diff < 1e-4, "teacher-forced log-probs of sequence " + i + " differ by " + diff);
            float[] tail = Arrays.copyOfRange(model.score(all), prompt.length - 1, all.length - 1);
            assertTrue(Fixture.maxAbsDiff(tail, g.logprobs()) < 1e-4, "generation log-probs equal scoring log-probs");
        }
    }

    @Test
    void leftPaddedBatchLastTokenLogitsMatchWithin1e4() {
        SafeTensors.Tensor idsT = Fixture.TENSORS.get("batch_input_ids");
        int batch = (int) idsT.shape()[0];
        int width = (int) idsT.shape()[1];
        int[] flatIds = Fixture.ints("batch_input_ids");
        int[] flatMask = Fixture.ints("batch_attention_mask");
        int[][] ids = new int[batch][width];
        int[][] positions = new int[batch][width];
        boolean[][][] attend = new boolean[batch][width][width];
        for (int b = 0; b < batch; b++) {
            int pos = 0;
            for (int j = 0; j < width; j++) {
                ids[b][j] = flatIds[b * width + j];
                positions[b][j] = flatMask[b * width + j] == 1 ? pos++ : 0;
                for (int s = 0; s <= j; s++) {
                    attend[b][j][s] = flatMask[b * width + s] == 1;
                }
            }
        }
        assertTrue(Arrays.stream(flatMask).anyMatch(m -> m == 0), "the reference batch is padded");
        try (NDManager scope = model.decoder().manager().newSubManager()) {
            NDArray logits =
                    model.decoder().forward(scope, ids, positions, attend, null).get(new NDIndex(":, -1, :"));
            float diff =
                    Fixture.maxAbsDiff(Fixture.TENSORS.get("batch_last_logits").data(), logits.toFloatArray());
            assertTrue(diff < 1e-4, "left-padded batch: max |logit - reference| = " + diff);
        }
    }

    static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
