package dev.katmesh.policy.jinja;

import java.util.List;

/** The expressions of a parsed template. {@code line} is kept where evaluation can fail. */
sealed interface Expr {

    record Literal(Object value) implements Expr {}

    record Name(String name, int line) implements Expr {}

    record ListOf(List<Expr> items) implements Expr {}

    record TupleOf(List<Expr> items) implements Expr {}

    record DictOf(List<Expr> keys, List<Expr> values) implements Expr {}

    /** obj.name: an attribute first, then an item, as Jinja's getattr does. */
    record Attribute(Expr target, String name, int line) implements Expr {}

    /** obj[key]: an item first, then an attribute. */
    record Item(Expr target, Expr key, int line) implements Expr {}

    record Slice(Expr target, Expr start, Expr stop, Expr step, int line) implements Expr {}

    record Call(Expr callee, List<Expr> args, List<String> kwargNames, List<Expr> kwargValues, int line)
            implements Expr {}

    /** value | name(args): the filter's first argument is the value. */
    record Filter(Expr value, String name, List<Expr> args, List<String> kwargNames, List<Expr> kwargValues, int line)
            implements Expr {}

    record Test(Expr value, String name, List<Expr> args, boolean negated, int line) implements Expr {}

    record Unary(String op, Expr operand, int line) implements Expr {}

    record Binary(String op, Expr left, Expr right, int line) implements Expr {}

    /** a < b <= c: each comparison against the next operand, all must hold. */
    record Compare(Expr first, List<String> ops, List<Expr> rest, int line) implements Expr {}

    record And(Expr left, Expr right) implements Expr {}

    record Or(Expr left, Expr right) implements Expr {}

    record Not(Expr operand) implements Expr {}

    /** a if test else b; without else, an undefined value when the test fails. */
    record Conditional(Expr test, Expr then, Expr orElse) implements Expr {}
}
