package dev.katmesh.launcher.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.wire.FeedbackSenders;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Accounts for every feedback record of every sender's topic (by its position, {@link FeedbackSenders.Position}):
 * <b>joined</b> when a scored record names it (katmesh-feedback header), <b>dead-lettered</b> with its reason
 * (unreadable, out of its sender's scope, or matching no session within the window), <b>pending</b> while the
 * reward's join holds it (an {@code f/} entry of katmesh.feedback.join) or has not taken it yet (at or past the join's
 * committed offset), and <b>lost</b> otherwise: taken (its offset committed, which happens in the transaction that
 * copies it into the join) and then nowhere. Pure: {@link dev.katmesh.launcher.AuditCommand} reads the records.
 */
public final class FeedbackAudit {

    private static final ObjectMapper JSON = new ObjectMapper();

    private FeedbackAudit() {}

    /**
     * @param joined       positions named by scored records
     * @param deadLettered position → reason, of dead-letter records of the intake topics
     * @param held         positions of the join's live {@code f/} entries
     * @param committed    the join's committed offset per intake partition ("topic-partition"; group
     *                     katmesh-reward-feedback)
     */
    public static ObjectNode reconcile(
            List<FeedbackSenders.Position> received,
            Set<String> joined,
            Map<String, String> deadLettered,
            Set<String> held,
            Map<String, Long> committed) {
        int join = 0;
        int dead = 0;
        int pending = 0;
        Set<String> lost = new TreeSet<>();
        Map<String, Integer> reasons = new TreeMap<>();
        Map<String, Integer> bySender = new TreeMap<>();
        for (FeedbackSenders.Position r : received) {
            String p = r.toString();
            bySender.merge(r.sender(), 1, Integer::sum);
            if (joined.contains(p)) {
                join++;
            } else if (deadLettered.containsKey(p)) {
                dead++;
                reasons.merge(deadLettered.get(p), 1, Integer::sum);
            } else if (held.contains(p) || r.offset() >= committed.getOrDefault(r.topic() + "-" + r.partition(), 0L)) {
                pending++;
            } else {
                lost.add(p);
            }
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("received", received.size());
        out.set("senders", JSON.valueToTree(bySender));
        out.put("joined", join);
        out.put("dead_lettered", dead);
        out.set("dead_letter_reasons", JSON.valueToTree(reasons));
        out.put("pending", pending);
        out.set("lost", JSON.valueToTree(lost));
        out.put("ok", lost.isEmpty());
        return out;
    }
}
