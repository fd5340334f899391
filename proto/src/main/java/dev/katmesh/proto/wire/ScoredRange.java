package dev.katmesh.proto.wire;

import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * A range of the scored log and the records of it that count: by the records' time (the broker's timestamps, from
 * inclusive, to exclusive), by offsets (one partition's, or every partition's, from inclusive, to exclusive), and by
 * what the record says (source, agent, a task id prefix, a task family, a reward interval). Absent bounds are open.
 *
 * @param fromMs     records at or after this time (epoch ms; Long.MIN_VALUE: from the start)
 * @param toMs       records before this time (Long.MAX_VALUE: to the end as the read starts)
 * @param partition  only this partition (-1: all)
 * @param fromOffset from this offset of each partition read (0: its start)
 * @param toOffset   before this offset (Long.MAX_VALUE: its end as the read starts)
 * @param source     "deployed", "rollout" or null for both
 * @param agent      this agent id only, or null
 * @param taskPrefix task ids starting with this, or null
 * @param family     this task family only (the scored record's {@code task_family}), or null
 * @param minReward  reward at least this (NaN: no bound)
 * @param maxReward  reward at most this (NaN: no bound)
 * @param revisions  first scores, the re-scores late feedback made, or both ({@link Revisions})
 */
public record ScoredRange(
        long fromMs,
        long toMs,
        int partition,
        long fromOffset,
        long toOffset,
        String source,
        String agent,
        String taskPrefix,
        String family,
        double minReward,
        double maxReward,
        Revisions revisions) {

    /**
     * Which scores of a trajectory count. Late feedback (the reward's feedback window) can re-score a trajectory after
     * it was released: its {@code revision} 1 follows its first score (revision 0) on the log.
     */
    public enum Revisions {
        /** First scores only (the default): each trajectory once, as the online stages trained it. */
        FIRST,
        /** Re-scores after late feedback only: each such trajectory once, with its final verdict. */
        REVISED,
        /** Both: a re-scored trajectory twice (for export; a replay would train it twice and refuses it). */
        ALL;

        /** A name as options and curricula give it: first, revised or all. */
        public static Revisions parse(String name) {
            if (name == null || name.isBlank()) {
                return FIRST;
            }
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("revisions is first, revised or all, not " + name);
            }
        }
    }

    public static final ScoredRange ALL = new ScoredRange(
            Long.MIN_VALUE,
            Long.MAX_VALUE,
            -1,
            0,
            Long.MAX_VALUE,
            null,
            null,
            null,
            null,
            Double.NaN,
            Double.NaN,
            Revisions.FIRST);

    public ScoredRange {
        revisions = revisions == null ? Revisions.FIRST : revisions;
        if (fromMs > toMs || fromOffset < 0 || fromOffset > toOffset) {
            throw new IllegalArgumentException("an empty or reversed range: time [" + fromMs + ", " + toMs
                    + "), offsets [" + fromOffset + ", " + toOffset + ")");
        }
        if (source != null && !source.equals("deployed") && !source.equals("rollout")) {
            throw new IllegalArgumentException("source is deployed or rollout, not " + source);
        }
        if (!Double.isNaN(minReward) && !Double.isNaN(maxReward) && minReward > maxReward) {
            throw new IllegalArgumentException("min reward " + minReward + " is above max reward " + maxReward);
        }
    }

    /** A time bound: ISO-8601 ({@code 2026-12-07T06:00:00Z}) or epoch ms; blank is {@code open}. */
    public static long time(String value, long open) {
        if (value == null || value.isBlank()) {
            return open;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            try {
                return Instant.parse(value.trim()).toEpochMilli();
            } catch (DateTimeParseException e2) {
                throw new IllegalArgumentException(
                        "a time is ISO-8601 (2026-12-07T06:00:00Z) or epoch ms, not " + value);
            }
        }
    }

    /** Whether a record of the range (by offset and time) is selected by what it says. */
    public boolean selects(ScoredTrajectory s) {
        Trajectory t = s.getTrajectory();
        if (source != null) {
            TrajectorySource want = source.equals("rollout")
                    ? TrajectorySource.TRAJECTORY_SOURCE_ROLLOUT
                    : TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED;
            if (t.getSource() != want) {
                return false;
            }
        }
        boolean revised = s.getRevision() > 0;
        if (revisions == Revisions.FIRST && revised || revisions == Revisions.REVISED && !revised) {
            return false;
        }
        return (agent == null || agent.equals(t.getAgentId()))
                && (taskPrefix == null || t.getTaskId().startsWith(taskPrefix))
                && (family == null || family.equals(s.getTaskFamily()))
                && (Double.isNaN(minReward) || s.getReward() >= minReward)
                && (Double.isNaN(maxReward) || s.getReward() <= maxReward);
    }
}
