package dev.katmesh.learner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.katmesh.proto.json.AtifJson;
import dev.katmesh.proto.json.ScoredJson;
import dev.katmesh.proto.json.TrajectoryJson;
import dev.katmesh.proto.json.TrajectoryJsonException;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A line of a curriculum data file (JSONL): {@code {"text": ...}} for language modelling; a trajectory in katmesh's
 * JSON form (the OpenAI chat format) for SFT; or a scored trajectory exported by {@code ./katmesh export} (or another
 * stack), in OpenAI-chat JSONL with the scored fields ({@link ScoredJson}) or as an ATIF-v1.7 object per line
 * ({@link AtifJson}), told apart by their fields. Tags for data mixing come from a "tags" object or the trajectory's
 * metadata.
 *
 * @param scored the scored record, when the line was one (its token ids and error mask train as the topic's do)
 */
record FileRecord(String text, Trajectory trajectory, ScoredTrajectory scored, Map<String, String> tags) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static List<FileRecord> read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": curriculum data file not found");
        }
        List<FileRecord> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int lineNo = 0;
            for (String line; (line = r.readLine()) != null; ) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode node = JSON.readTree(line);
                Map<String, String> tags = new LinkedHashMap<>();
                node.path("tags")
                        .fields()
                        .forEachRemaining(e -> tags.put(e.getKey(), e.getValue().asText()));
                if (node.has("text")) {
                    out.add(new FileRecord(node.get("text").asText(), null, null, tags));
                    continue;
                }
                try {
                    ScoredTrajectory scored = AtifJson.isAtif(node)
                            ? AtifJson.read(node)
                            : ScoredJson.isScored(node) ? ScoredJson.read(node) : null;
                    Trajectory t = scored != null
                            ? scored.getTrajectory()
                            : TrajectoryJson.parse(line.getBytes(StandardCharsets.UTF_8))
                                    .trajectory();
                    t.getMetadataMap().forEach(tags::putIfAbsent);
                    out.add(new FileRecord(null, t, scored, tags));
                } catch (TrajectoryJsonException e) {
                    throw new IOException(
                            file + ":" + lineNo + ": neither {\"text\": ...}, a trajectory, a scored trajectory nor an"
                                    + " ATIF trajectory: " + e.getMessage(),
                            e);
                }
            }
        }
        return out;
    }
}
