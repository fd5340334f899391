package dev.katmesh.launcher;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.katmesh.proto.wire.ScoredRange;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The options that name a range of the scored log ({@link ScoredRange}): `export`'s and `replay`'s. */
final class ScoredRangeOptions {

    @Option(
            names = "--from",
            paramLabel = "TIME",
            description = "Records at or after this time (ISO-8601 or epoch ms).")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "Records before this time (ISO-8601 or epoch ms).")
    String to;

    @Option(names = "--partition", defaultValue = "-1", description = "Only this partition (default: all).")
    int partition;

    @Option(names = "--from-offset", defaultValue = "0", description = "From this offset of each partition read.")
    long fromOffset;

    @Option(names = "--to-offset", defaultValue = "" + Long.MAX_VALUE, description = "Before this offset.")
    long toOffset;

    @Option(names = "--source", description = "deployed or rollout (default: both).")
    String source;

    @Option(names = "--agent", description = "Only this agent id's trajectories.")
    String agent;

    @Option(names = "--task-prefix", description = "Only trajectories whose task id starts with this.")
    String taskPrefix;

    @Option(names = "--family", description = "Only trajectories scored against a task of this family (its template).")
    String family;

    @Option(names = "--min-reward", defaultValue = "NaN", description = "Only rewards at least this.")
    double minReward;

    @Option(names = "--max-reward", defaultValue = "NaN", description = "Only rewards at most this.")
    double maxReward;

    @Option(
            names = "--revisions",
            defaultValue = "first",
            description = "first (first scores, the default), revised (re-scores after late feedback) or all (both;"
                    + " export only).")
    String revisions;

    /** The range; a bad one (reversed, an unknown source, a time that does not parse) is refused here. */
    ScoredRange range() {
        return new ScoredRange(
                ScoredRange.time(from, Long.MIN_VALUE),
                ScoredRange.time(to, Long.MAX_VALUE),
                partition,
                fromOffset,
                toOffset,
                source,
                agent,
                taskPrefix,
                family,
                minReward,
                maxReward,
                ScoredRange.Revisions.parse(revisions));
    }

    /** The range as a curriculum's {@code replay:} block (what was given, as given). */
    void writeReplay(ObjectNode r) {
        putIfSet(r, "from", from);
        putIfSet(r, "to", to);
        if (partition >= 0) {
            r.put("partition", partition);
        }
        if (fromOffset > 0) {
            r.put("from_offset", fromOffset);
        }
        if (toOffset < Long.MAX_VALUE) {
            r.put("to_offset", toOffset);
        }
        putIfSet(r, "source", source);
        putIfSet(r, "agent", agent);
        putIfSet(r, "task_prefix", taskPrefix);
        putIfSet(r, "family", family);
        if (!Double.isNaN(minReward)) {
            r.put("min_reward", minReward);
        }
        if (!Double.isNaN(maxReward)) {
            r.put("max_reward", maxReward);
        }
        if (ScoredRange.Revisions.parse(revisions) != ScoredRange.Revisions.FIRST) {
            r.put("revisions", revisions.trim().toLowerCase(Locale.ROOT));
        }
    }

    static void putIfSet(ObjectNode o, String field, String value) {
        if (value != null && !value.isBlank()) {
            o.put(field, value);
        }
    }
}
