package dev.katmesh.launcher.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Accounts for every record of katmesh.feedback (by its position, {@code partition@offset}): <b>joined</b> when a
 * scored record names it (katmesh-feedback header), <b>dead-lettered</b> with its reason (unreadable, or matching no
 * session within the window), <b>pending</b> while the reward's join holds it (an {@code f/} entry of
 * katmesh.feedback.join) or has not taken it yet (at or past the join's committed offset), and <b>lost</b> otherwise:
 * taken (its offset committed, which happens in the transaction that copies it into the join) and then nowhere. Pure:
 * {@link dev.katmesh.launcher.AuditCommand} reads the records.
 */
public final class FeedbackAudit {

    /** A feedback record: where it is. */
    public record Received(int partition, long offset) {
        String position() {
            return partition + "@" + offset;
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private FeedbackAudit() {}

    /**
     * @param joined       positions named by scored records
     * @param deadLettered position → reason, of dead-letter records of katmesh.feedback
     * @param held         positions of the join's live {@code f/} entries
     * @param committed    the join's committed offset per feedback partition (group katmesh-reward-feedback)
     */
    public static ObjectNode reconcile(
            List<Received> received,
            Set<String> joined,
            Map<String, String> deadLettered,
            Set<String> held,
            Map<Integer, Long> committed) {
        int join = 0;
        int dead = 0;
        int pending = 0;
        Set<String> lost = new TreeSet<>();
        Map<String, Integer> reasons = new TreeMap<>();
        for (Received r : received) {
            String p = r.position();
            if (joined.contains(p)) {
                join++;
            } else if (deadLettered.containsKey(p)) {
                dead++;
                reasons.merge(deadLettered.get(p), 1, Integer::sum);
            } else if (held.contains(p) || r.offset() >= committed.getOrDefault(r.partition(), 0L)) {
                pending++;
            } else {
                lost.add(p);
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("received", received.size());
        out.put("joined", join);
        out.put("dead_lettered", dead);
        out.set("dead_letter_reasons", JSON.valueToTree(reasons));
        out.put("pending", pending);
        out.set("lost", JSON.valueToTree(lost));
        out.put("ok", lost.isEmpty());
        return out;
    }
}
