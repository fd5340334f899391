package dev.katmesh.proto.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;

/**
 * Refuses JSON whose strings are not valid Unicode. JSON may escape a lone surrogate ({@code "\ud800"}), and a
 * decoder may let CESU-style bytes through; such a string has no UTF-8 encoding, so protobuf would write it
 * lossily (a {@code ?} in its place) and the trainer would see text the agent never produced. A trajectory keeps its
 * text byte for byte or is refused with the path of the string.
 */
final class WellFormedText {

    private WellFormedText() {}

    /**
     * Walks {@code root}'s string values; throws at the first with an unpaired surrogate. (Field names need no walk:
     * Jackson refuses a surrogate without its pair in a name while parsing.)
     */
    static void check(JsonNode root, String rootPath) throws TrajectoryJsonException {
        ArrayDeque<Map.Entry<String, JsonNode>> todo = new ArrayDeque<>();
        todo.push(Map.entry(rootPath, root));
        while (!todo.isEmpty()) {
            Map.Entry<String, JsonNode> e = todo.pop();
            String path = e.getKey();
            JsonNode node = e.getValue();
            if (node.isTextual()) {
                require(node.textValue(), path);
            } else if (node.isArray()) {
                for (int i = 0; i < node.size(); i++) {
                    todo.push(Map.entry(path + "[" + i + "]", node.get(i)));
                }
            } else if (node.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = it.next();
                    todo.push(Map.entry(path + "." + field.getKey(), field.getValue()));
                }
            }
        }
    }

    private static void require(String s, String path) throws TrajectoryJsonException {
        int bad = unpairedSurrogate(s);
        if (bad >= 0) {
            throw new TrajectoryJsonException(
                    TrajectoryJsonException.Kind.INVALID_TEXT,
                    path,
                    String.format(
                            "unpaired surrogate U+%04X at character %d: not valid Unicode, so it has no UTF-8 encoding"
                                    + " and would not survive the path unchanged",
                            (int) s.charAt(bad), bad));
        }
    }

    /** The index of the first unpaired surrogate in {@code s}, or -1. */
    static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }
}
