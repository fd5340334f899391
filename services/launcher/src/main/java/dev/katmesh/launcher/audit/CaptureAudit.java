package dev.katmesh.launcher.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Accounts for every request inference served to an agent: each request on katmesh.capture.requests must be named
 * by exactly one trajectory on katmesh.trajectories.raw ({@code captured_request_ids}), the one its session's tree
 * became. A request is <b>lost</b> when the reward's assembly (group katmesh-reward-capture) has committed past its
 * record — it acknowledges a tree's records only once its trajectories are on raw — and no trajectory names it;
 * records not committed yet belong to trees still open and are <b>pending</b>. <b>named_twice</b> lists requests two
 * different trajectory ids name (copies of one trajectory id are the same trajectory). Pure:
 * {@link dev.katmesh.launcher.AuditCommand} reads the records.
 */
public final class CaptureAudit {

    /** A request on the capture log: where it is and its id. */
    public record Captured(int partition, long offset, String requestId) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private CaptureAudit() {}

    /**
     * @param requests  the request records of the capture log
     * @param named     raw trajectory id -> the request ids it names
     * @param committed the assembly's committed offset per capture partition (absent: nothing committed)
     */
    public static ObjectNode reconcile(
            List<Captured> requests, Map<String, List<String>> named, Map<Integer, Long> committed) {
        Map<String, Set<String>> namedBy = new HashMap<>();
        named.forEach((trajectory, ids) -> ids.forEach(
                id -> namedBy.computeIfAbsent(id, x -> new TreeSet<>()).add(trajectory)));
        Set<String> lost = new TreeSet<>();
        Set<String> twice = new TreeSet<>();
        int assembled = 0;
        int pending = 0;
        for (Captured r : requests) {
            Set<String> by = namedBy.get(r.requestId());
            if (by != null) {
                assembled++;
                if (by.size() > 1) {
                    twice.add(r.requestId() + " " + by);
                }
            } else if (r.offset() >= committed.getOrDefault(r.partition(), 0L)) {
                pending++;
            } else {
                lost.add(r.requestId());
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("requests", requests.size());
        out.put("assembled", assembled);
        out.put("pending", pending);
        out.set("lost", JSON.valueToTree(lost));
        out.set("named_twice", JSON.valueToTree(twice));
        out.put("ok", lost.isEmpty() && twice.isEmpty());
        return out;
    }
}
