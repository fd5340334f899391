package dev.katmesh.reward;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.katmesh.proto.fuzz.ByteMutations;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.ToolCall;
import dev.katmesh.proto.v1.ToolStep;
import dev.katmesh.proto.v1.Trajectory;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A bounded-time fuzz of the decoder, JSON and protobuf: mutated valid records (bit flips, byte
 * insertions and deletions, truncation, splices) must either decode into a valid trajectory or be
 * refused with a {@link RejectedTrajectoryException} and its reason — never another exception.
 */
class RawTrajectoryDecoderFuzzTest {

    static final long BUDGET_MS = Long.getLong("katmesh.fuzz.ms", 8000);

    static Trajectory seed() {
        return Trajectory.newBuilder()
                .setTrajectoryId("t-1")
                .setGroupId("g")
                .setTaskId("task")
                .addMessages(ChatMessage.newBuilder().setRole("user").setContent("Write add(a, b)."))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("assistant")
                        .setContent("ok")
                        .addToolCalls(ToolCall.newBuilder()
                                .setId("c1")
                                .setType("function")
                                .setName("bash")
                                .setArguments("{\"command\":\"ls\"}")))
                .addMessages(ChatMessage.newBuilder()
                        .setRole("tool")
                        .setToolCallId("c1")
                        .setContent("a.py"))
                .addSteps(ToolStep.newBuilder()
                        .setMessageIndex(2)
                        .setToolCallId("c1")
                        .setToolName("bash")
                        .setOutput("a.py")
                        .setExitCode(0))
                .addAllTokenIds(Arrays.asList(1, 5, 9, 14, 3, 2))
                .addSegments(TokenSegment.newBuilder().setStart(0).setEnd(3))
                .addSegments(TokenSegment.newBuilder()
                        .setStart(3)
                        .setEnd(6)
                        .setGenerated(true)
                        .setPolicyVersion(1)
                        .addLogprobs(-0.5f)
                        .addLogprobs(-1f)
                        .addLogprobs(-0.1f))
                .build();
    }

    @Test
    void mutatedRecordsAreDecodedOrRefusedWithAReasonNeverCrash() {
        RawTrajectoryDecoder decoder = new RawTrajectoryDecoder(1 << 20, 1000);
        byte[][] seeds = {TrajectoryJson.write(seed()), seed().toByteArray()};
        String[] types = {RawTrajectoryDecoder.JSON, RawTrajectoryDecoder.PROTOBUF};
        SplittableRandom random = new SplittableRandom(20261129);
        long deadline = System.currentTimeMillis() + BUDGET_MS;
        int cases = 0;
        int refused = 0;
        while (System.currentTimeMillis() < deadline || cases < 2000) {
            int k = cases % 2;
            byte[] input = ByteMutations.mutate(seeds[k], seeds[1 - k], random);
            try {
                decoder.decode(input, types[k]);
            } catch (RejectedTrajectoryException e) {
                refused++;
                assertTrue(
                        e.reason() != null
                                && e.getMessage() != null
                                && !e.getMessage().isEmpty(),
                        "a refusal names its reason");
            } catch (RuntimeException | StackOverflowError e) {
                fail(
                        "case " + cases + " (" + types[k] + ", "
                                + HexFormat.of().formatHex(input) + ") crashed the decoder: " + e,
                        e);
            }
            cases++;
        }
        System.out.printf(
                "fuzzed the decoder with %d mutated records in %d ms: %d refused with a reason, %d decoded%n",
                cases, BUDGET_MS, refused, cases - refused);
        assertTrue(refused > 0 && refused < cases, "the mutations reach both outcomes");
    }
}
