package dev.katmesh.secrets;

/** A secret found in a text: the rule that found it and where it is ({@code end} exclusive). */
public record Finding(String rule, int start, int end) {

    public Finding {
        if (start < 0 || end <= start) {
            throw new IllegalArgumentException("empty or negative span " + start + ".." + end + " for " + rule);
        }
    }

    boolean overlaps(Finding o) {
        return start < o.end && o.start < end;
    }
}
