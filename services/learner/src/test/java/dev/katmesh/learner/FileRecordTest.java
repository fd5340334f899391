package dev.katmesh.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.json.AtifJson;
import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.v1.ChatMessage;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.TokenSegment;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import dev.katmesh.training.ScoredSamples;
import dev.katmesh.training.TrainingSample;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A curriculum file may mix text, trajectories and exported scored records (OpenAI-chat JSONL or ATIF). */
class FileRecordTest {

    static ScoredTrajectory scored(String id) {
        return ScoredTrajectory.newBuilder()
                .setTrajectory(Trajectory.newBuilder()
                        .setTrajectoryId(id)
                        .setGroupId("g")
                        .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                        .addMessages(ChatMessage.newBuilder().setRole("user").setContent("hi"))
                        .addMessages(
                                ChatMessage.newBuilder().setRole("assistant").setContent("hello"))
                        .addAllTokenIds(List.of(5, 6, 7, 8))
                        .addSegments(
                                TokenSegment.newBuilder().setStart(0).setEnd(2).setMessageIndex(0))
                        .addSegments(TokenSegment.newBuilder()
                                .setStart(2)
                                .setEnd(4)
                                .setGenerated(true)
                                .setPolicyVersion(3)
                                .addLogprobs(-0.5f)
                                .addLogprobs(-1f)
                                .setMessageIndex(1))
                        .putMetadata("language", "python"))
                .setReward(0.75)
                .addAllErrorMask(List.of(false, false, true, false))
                .build();
    }

    @Test
    void exportedLinesReadAsScoredRecordsAndTrainOnTheirOwnTokens(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("mixed.jsonl");
        Files.writeString(
                f,
                String.join(
                        "\n",
                        "{\"text\":\"def f(): pass\"}",
                        new String(TrajectoryJson.write(scored("bare").getTrajectory()), StandardCharsets.UTF_8),
                        new String(ScoredJson.write(scored("openai")), StandardCharsets.UTF_8),
                        new String(AtifJson.write(scored("atif")), StandardCharsets.UTF_8)));
        List<FileRecord> records = FileRecord.read(f);
        assertEquals(4, records.size());
        assertNotNull(records.get(0).text());
        assertNull(records.get(1).scored(), "a bare trajectory has no scored fields");
        for (FileRecord r : records.subList(2, 4)) {
            assertEquals(scored(r.trajectory().getTrajectoryId()), r.scored(), "read back whole");
            assertEquals("python", r.tags().get("language"), "the metadata tags it for mixing");
            TrainingSample s = ScoredSamples.of(r.scored(), true);
            assertTrue(!s.trainable()[2] && s.trainable()[3], "the error mask of the export holds");
            assertEquals(-1f, s.behaviourLogprobs()[3], "its behaviour log-probs too");
        }
    }

    @Test
    void aBadLineIsRefusedWithItsNumber(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"text\":\"ok\"}\n{\"schema_version\":\"ATIF-v1.7\",\"agent\":{},\"steps\":[]}\n");
        IOException e = assertThrows(IOException.class, () -> FileRecord.read(f));
        assertTrue(e.getMessage().contains("bad.jsonl:2") && e.getMessage().contains("$.steps"), e.getMessage());
    }
}
