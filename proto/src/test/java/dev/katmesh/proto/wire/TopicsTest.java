package dev.katmesh.proto.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.TrajectorySource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.common.header.Headers;
import org.junit.jupiter.api.Test;

class TopicsTest {

    /** kafka-topics/ declares one file per topic, named after it. */
    @Test
    void theTopicsTheCodeNamesAreExactlyThoseKafkaTopicsDeclares() throws IOException {
        Path dir = Path.of("../kafka-topics");
        Set<String> declared;
        try (Stream<Path> files = Files.list(dir)) {
            declared = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".yaml"))
                    .map(n -> n.substring(0, n.length() - 5))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(declared, new TreeSet<>(Topics.ALL), "kafka-topics/*.yaml against Topics.ALL");
        for (String t : Topics.ALL) {
            String yaml = Files.readString(dir.resolve(t + ".yaml"));
            assertTrue(yaml.contains("name: " + t), t + ".yaml names its topic");
        }
    }

    @Test
    void aSourceIsDecidedByTheTopicAndNamedByItsTag() {
        assertEquals(TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT, Topics.sourceOf(Topics.ROLLOUT));
        assertEquals(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, Topics.sourceOf(Topics.RAW));
        assertEquals(
                TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, Topics.sourceOf("anything.else"), "the least trusted");
        assertEquals(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED, Topics.sourceOf(null));
        for (TrajectorySource s : TrajectorySource.values()) {
            if (s != TrajectorySource.UNRECOGNIZED) {
                assertTrue(Topics.SOURCE_TAGS.contains(Topics.sourceTag(s)), s + " has a registered tag");
            }
        }
    }

    @Test
    void recordHeadersAreBuiltAndReadInOneForm() {
        Headers scored =
                RecordHeaders.scored("t-1", 1234, RecordHeaders.rawPosition("katmesh.trajectories.raw", 3, 77));
        assertEquals("t-1", RecordHeaders.text(scored, RecordHeaders.TRAJECTORY_ID));
        assertEquals(RecordHeaders.PROTOBUF, RecordHeaders.text(scored, RecordHeaders.CONTENT_TYPE));
        assertEquals(1234, RecordHeaders.number(scored, RecordHeaders.PUBLISHED_MS));
        assertEquals("katmesh.trajectories.raw/3/77", RecordHeaders.text(scored, RecordHeaders.RAW_POSITION));
        assertEquals(
                new RecordHeaders.RawPosition("katmesh.trajectories.raw", 3, 77),
                RecordHeaders.RawPosition.parse(RecordHeaders.text(scored, RecordHeaders.RAW_POSITION)),
                "read back as written");
        assertEquals(null, RecordHeaders.RawPosition.parse("raw/x/1"), "not a position");
        assertEquals(null, RecordHeaders.RawPosition.parse(null), "absent");
        assertEquals(-1, RecordHeaders.number(RecordHeaders.trajectory("t"), RecordHeaders.PUBLISHED_MS), "absent");
        assertEquals(
                "UNKNOWN_TASK",
                RecordHeaders.text(
                        RecordHeaders.rejected(RejectReason.UNKNOWN_TASK.name()), RecordHeaders.REJECT_REASON));
    }
}
