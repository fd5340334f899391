package dev.katmesh.capture;

import dev.katmesh.proto.v1.CaptureEvent;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.v1.TrajectorySource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Assembles captured sessions from their log (katmesh.capture.requests, read in order per partition): each tree's
 * requests are held until its end event, or until it is orphaned — no end will come when the inference process that
 * served it died — and then handed out as trajectories with the handles of the records they came from, which the
 * caller acknowledges once the trajectories are published. Not thread-safe: the caller serialises calls.
 *
 * <p>DESIGN. A tree's records are acknowledged only after its trajectories are published, so the consumer's committed
 * offset never passes the first record of an open tree: after a restart or a partition move the new reader rebuilds
 * every open tree from the log, and a tree published but not yet committed is rebuilt and published again with the
 * same ids (the reward's dedupe drops the copies). For that, when a tree closes must not depend on when the log is
 * read: an orphan closes when its partition's log has moved {@code orphanTimeout} past its last record (record
 * timestamps), or, on a partition that has been quiet for {@code quiet} (nothing more to read), when the wall clock
 * has. A record whose tree was closed (a request finishing after its session ended, or one logged after its tree was
 * orphaned) or whose parent is unknown cannot be assembled: it is handed back at once, with its reason.
 */
public final class SessionAssembler<H> {

    /**
     * A closed tree: its trajectories (none for records that could not be assembled), the handles of its records,
     * and why it closed: ended, idle, evicted, shutdown (inference's reasons), orphaned, or for records that could
     * not be assembled after_end, orphan, duplicate, malformed, no_event.
     */
    public record Closed<H>(String treeId, String why, List<Trajectory> trajectories, List<H> handles, int missing) {}

    private static final class Open<H> {
        final CaptureTree tree;
        final int partition;
        final List<H> handles = new ArrayList<>();
        final Trajectory.Builder base;
        long lastTimestampMs;

        Open(CaptureTree tree, int partition, Trajectory.Builder base) {
            this.tree = tree;
            this.partition = partition;
            this.base = base;
        }
    }

    private final Duration orphanTimeout;
    private final Duration quiet;
    private final int maxOpen;
    private final Map<String, Open<H>> open = new LinkedHashMap<>();
    private final Map<String, Boolean> closedIds = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> e) {
            return size() > 100_000;
        }
    };
    private final Map<Integer, Long> watermarkMs = new HashMap<>();
    private final Map<Integer, Long> lastReadMs = new HashMap<>();

    /**
     * @param orphanTimeout how long after its last record a tree with no end is closed as orphaned; longer than
     *     inference's own idle timeout, after which a live inference ends the tree itself
     * @param quiet how long a partition must have had nothing to read before the wall clock may orphan its trees
     * @param maxOpen open trees at most; past it the one idle longest is closed (evicted)
     */
    public SessionAssembler(Duration orphanTimeout, Duration quiet, int maxOpen) {
        this.orphanTimeout = orphanTimeout;
        this.quiet = quiet;
        this.maxOpen = maxOpen;
    }

    /** Open trees. */
    public int open() {
        return open.size();
    }

    /**
     * Takes one record of the log: its event, partition and timestamp, read at {@code nowMs}. Returns the trees it
     * closed (its own, or an evicted one), or its own handle back as a closed entry without trajectories.
     */
    public List<Closed<H>> accept(CaptureEvent e, int partition, long timestampMs, long nowMs, H handle) {
        watermarkMs.merge(partition, timestampMs, Math::max);
        lastReadMs.put(partition, nowMs);
        String id = e.getTreeId();
        List<Closed<H>> out = new ArrayList<>();
        Open<H> tree = open.get(id);
        switch (e.getEventCase()) {
            case REQUEST -> {
                if (tree == null) {
                    if (closedIds.containsKey(id)) {
                        out.add(stray(id, "after_end", handle));
                        return out;
                    }
                    if (open.size() >= maxOpen) {
                        evictOldest(out);
                    }
                    tree = new Open<>(new CaptureTree(id), partition, base(e));
                    open.put(id, tree);
                }
                CaptureTree.Added added = tree.tree.add(e.getRequest());
                if (added != CaptureTree.Added.ADDED) {
                    if (tree.tree.requests() == 0) {
                        open.remove(id); // nothing held: a tree made for this record only
                    }
                    out.add(stray(id, added.name().toLowerCase(), handle));
                    return out;
                }
                if (!e.getRequest().getTaskId().isEmpty()) {
                    tree.base.setTaskId(e.getRequest().getTaskId());
                }
                tree.handles.add(handle);
                tree.lastTimestampMs = Math.max(tree.lastTimestampMs, timestampMs);
            }
            case END -> {
                if (tree == null) {
                    out.add(stray(id, closedIds.containsKey(id) ? "after_end" : "empty", handle));
                    return out;
                }
                open.remove(id);
                tree.handles.add(handle);
                if (e.getEnd().hasOutcome()) {
                    tree.base.setOutcome(e.getEnd().getOutcome());
                }
                int missing = Math.max(0, e.getEnd().getRequests() - tree.tree.requests());
                out.add(close(
                        tree,
                        e.getEnd().getReason().isEmpty() ? "ended" : e.getEnd().getReason(),
                        missing));
            }
            default -> out.add(stray(id, "no_event", handle));
        }
        return out;
    }

    /** Closes the trees orphaned by {@code nowMs} (see the class's design note). */
    public List<Closed<H>> sweep(long nowMs) {
        List<Closed<H>> out = new ArrayList<>();
        long timeout = orphanTimeout.toMillis();
        for (Iterator<Open<H>> it = open.values().iterator(); it.hasNext(); ) {
            Open<H> t = it.next();
            long watermark = watermarkMs.getOrDefault(t.partition, 0L);
            boolean quietNow = nowMs - lastReadMs.getOrDefault(t.partition, nowMs) >= quiet.toMillis();
            if (watermark - t.lastTimestampMs >= timeout || (quietNow && nowMs - t.lastTimestampMs >= timeout)) {
                it.remove();
                out.add(close(t, "orphaned", 0));
            }
        }
        return out;
    }

    /** Forgets a partition this reader no longer owns: its open trees are the new owner's to rebuild. */
    public void revoke(int partition) {
        open.values().removeIf(t -> t.partition == partition);
        watermarkMs.remove(partition);
        lastReadMs.remove(partition);
    }

    private void evictOldest(List<Closed<H>> out) {
        Open<H> oldest = null;
        for (Open<H> t : open.values()) {
            if (oldest == null || t.lastTimestampMs < oldest.lastTimestampMs) {
                oldest = t;
            }
        }
        if (oldest != null) {
            open.remove(oldest.tree.treeId());
            out.add(close(oldest, "evicted", 0));
        }
    }

    private Closed<H> close(Open<H> t, String why, int missing) {
        closedIds.put(t.tree.treeId(), Boolean.TRUE);
        List<Trajectory> leaves =
                t.tree.leaves(t.base.putMetadata("closed_by", why).build());
        return new Closed<>(t.tree.treeId(), why, leaves, t.handles, missing);
    }

    private Closed<H> stray(String treeId, String why, H handle) {
        return new Closed<>(treeId, why, List.of(), List.of(handle), 0);
    }

    /** A tree's fields from its first record: what every trajectory of it shares. */
    public static Trajectory.Builder base(CaptureEvent e) {
        return Trajectory.newBuilder()
                .setGroupId(e.getSessionId())
                .setSessionId(e.getSessionId())
                .setAgentId(e.getAgentId())
                .setSource(TrajectorySource.TRAJECTORY_SOURCE_DEPLOYED)
                .setModel(e.getModel())
                .setCreatedAtMs(e.getAtMs())
                .putMetadata("captured_by", "katmesh-inference");
    }
}
