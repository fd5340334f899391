package dev.katmesh.policy.jinja;

import java.util.List;

/** The statements of a parsed template. */
sealed interface Node {

    record Text(String text) implements Node {}

    record Output(Expr value) implements Node {}

    /** if / elif / else: the first branch whose test holds renders; {@code orElse} when none does. */
    record If(List<Expr> tests, List<List<Node>> branches, List<Node> orElse) implements Node {}

    /** for targets in iterable [if filter]: body; else: orElse when no item was rendered. */
    record For(List<String> targets, Expr iterable, Expr filter, List<Node> body, List<Node> orElse, int line)
            implements Node {}

    /** set a = value, set a, b = value, or set ns.attr = value. */
    record Set(List<String> targets, String attribute, Expr value, int line) implements Node {}

    /** set name %}body{% endset, optionally through filters. */
    record SetBlock(String target, List<Node> body, Expr.Filter filter) implements Node {}

    record Macro(String name, List<String> params, List<Expr> defaults, List<Node> body) implements Node {}

    /** filter name %}body{% endfilter: the body's text through a filter. */
    record FilterBlock(Expr.Filter filter, List<Node> body) implements Node {}

    /** break and continue (the loopcontrols extension transformers enables). */
    record LoopControl(boolean isBreak) implements Node {}
}
