package dev.katmesh.policy.jinja;

import dev.katmesh.policy.jinja.Token.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Jinja's expressions by recursive descent, with its operator precedence, loosest first: conditional, or, and,
 * not, comparisons and in, + -, ~, * / // %, **, unary - +, then a primary with its postfixes (.attr, [item],
 * (call)) and its filters and tests (| and is), which bind tightest.
 */
class ExpressionParser extends TokenCursor {

    private static final Set<String> COMPARISONS = Set.of("==", "!=", "<", "<=", ">", ">=");

    ExpressionParser(List<Token> tokens) {
        super(tokens);
    }

    Expr expression() {
        Expr value = conditionalFree();
        while (skip(Kind.NAME, "if")) {
            Expr test = conditionalFree();
            Expr orElse = skip(Kind.NAME, "else") ? expression() : null;
            value = new Expr.Conditional(test, value, orElse);
        }
        return value;
    }

    Expr conditionalFree() {
        Expr left = and();
        while (skip(Kind.NAME, "or")) {
            left = new Expr.Or(left, and());
        }
        return left;
    }

    private Expr and() {
        Expr left = not();
        while (skip(Kind.NAME, "and")) {
            left = new Expr.And(left, not());
        }
        return left;
    }

    private Expr not() {
        if (skip(Kind.NAME, "not")) {
            return new Expr.Not(not());
        }
        return compare();
    }

    private Expr compare() {
        int line = peek().line();
        Expr first = math1();
        List<String> ops = new ArrayList<>();
        List<Expr> rest = new ArrayList<>();
        while (true) {
            Token t = peek();
            if (t.kind() == Kind.OPERATOR && COMPARISONS.contains(t.text())) {
                ops.add(next().text());
            } else if (t.isName("in")) {
                next();
                ops.add("in");
            } else if (t.isName("not") && peek(1).isName("in")) {
                at += 2;
                ops.add("not in");
            } else {
                break;
            }
            rest.add(math1());
        }
        return ops.isEmpty() ? first : new Expr.Compare(first, ops, rest, line);
    }

    private Expr math1() {
        Expr left = concat();
        while (peek().isOperator("+") || peek().isOperator("-")) {
            Token op = next();
            left = new Expr.Binary(op.text(), left, concat(), op.line());
        }
        return left;
    }

    private Expr concat() {
        Expr left = math2();
        while (peek().isOperator("~")) {
            Token op = next();
            left = new Expr.Binary("~", left, math2(), op.line());
        }
        return left;
    }

    private Expr math2() {
        Expr left = pow();
        while (Set.of("*", "/", "//", "%").contains(peek().text()) && peek().kind() == Kind.OPERATOR) {
            Token op = next();
            left = new Expr.Binary(op.text(), left, pow(), op.line());
        }
        return left;
    }

    private Expr pow() {
        Expr left = unary(true);
        while (peek().isOperator("**")) {
            Token op = next();
            left = new Expr.Binary("**", left, unary(true), op.line());
        }
        return left;
    }

    private Expr unary(boolean withFilters) {
        Token t = peek();
        Expr node;
        if (t.isOperator("-") || t.isOperator("+")) {
            next();
            node = new Expr.Unary(t.text(), unary(false), t.line());
        } else {
            node = postfix(primary());
        }
        return withFilters ? filtersAndTests(node) : node;
    }

    private Expr filtersAndTests(Expr node) {
        while (true) {
            if (skip(Kind.OPERATOR, "|")) {
                node = filter(node);
            } else if (peek().isName("is")) {
                node = test(node, next().line());
            } else if (peek().isOperator("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    Expr filter(Expr value) {
        int line = peek().line();
        String name = name();
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        if (skip(Kind.OPERATOR, "(")) {
            arguments(args, kwNames, kwValues);
        }
        return new Expr.Filter(value, name, args, kwNames, kwValues, line);
    }

    private Expr test(Expr value, int line) {
        boolean negated = skip(Kind.NAME, "not");
        String name = name();
        List<Expr> args = new ArrayList<>();
        Token t = peek();
        if (skip(Kind.OPERATOR, "(")) {
            arguments(args, new ArrayList<>(), new ArrayList<>());
        } else if ((Set.of(Kind.NAME, Kind.STRING, Kind.INTEGER, Kind.FLOAT).contains(t.kind())
                        || t.isOperator("[")
                        || t.isOperator("{"))
                && !(t.isName("else") || t.isName("or") || t.isName("and") || t.isName("if"))) {
            args.add(postfix(primary()));
        }
        return new Expr.Test(value, name, args, negated, line);
    }

    private Expr postfix(Expr node) {
        while (true) {
            Token t = peek();
            if (t.isOperator(".")) {
                next();
                Token attr = next();
                if (attr.kind() == Kind.INTEGER) {
                    node = new Expr.Item(node, new Expr.Literal(Long.parseLong(attr.text())), attr.line());
                } else if (attr.kind() == Kind.NAME) {
                    node = new Expr.Attribute(node, attr.text(), attr.line());
                } else {
                    throw TemplateException.at(attr.line(), "expected an attribute name after '.'");
                }
            } else if (t.isOperator("[")) {
                next();
                node = subscript(node, t.line());
            } else if (t.isOperator("(")) {
                node = call(node);
            } else {
                return node;
            }
        }
    }

    private Expr subscript(Expr target, int line) {
        Expr[] parts = new Expr[3];
        int part = 0;
        boolean slice = false;
        while (!skip(Kind.OPERATOR, "]")) {
            if (skip(Kind.OPERATOR, ":")) {
                slice = true;
                if (++part > 2) {
                    throw TemplateException.at(line, "a slice has at most three parts");
                }
            } else {
                parts[part] = expression();
            }
        }
        if (!slice) {
            if (parts[0] == null) {
                throw TemplateException.at(line, "empty subscript");
            }
            return new Expr.Item(target, parts[0], line);
        }
        return new Expr.Slice(target, parts[0], parts[1], parts[2], line);
    }

    private Expr call(Expr callee) {
        int line = expect(Kind.OPERATOR, "(").line();
        List<Expr> args = new ArrayList<>();
        List<String> kwNames = new ArrayList<>();
        List<Expr> kwValues = new ArrayList<>();
        arguments(args, kwNames, kwValues);
        return new Expr.Call(callee, args, kwNames, kwValues, line);
    }

    /** Call arguments after '(' through ')': positional, then name=value. */
    private void arguments(List<Expr> args, List<String> kwNames, List<Expr> kwValues) {
        while (!skip(Kind.OPERATOR, ")")) {
            if (!args.isEmpty() || !kwNames.isEmpty()) {
                expect(Kind.OPERATOR, ",");
                if (skip(Kind.OPERATOR, ")")) {
                    return;
                }
            }
            if (peek().kind() == Kind.NAME && peek(1).isOperator("=")) {
                kwNames.add(next().text());
                next();
                kwValues.add(expression());
            } else {
                args.add(expression());
            }
        }
    }

    private Expr primary() {
        Token t = next();
        switch (t.kind()) {
            case NAME -> {
                return switch (t.text()) {
                    case "true", "True" -> new Expr.Literal(true);
                    case "false", "False" -> new Expr.Literal(false);
                    case "none", "None" -> new Expr.Literal(null);
                    default -> new Expr.Name(t.text(), t.line());
                };
            }
            case STRING -> {
                StringBuilder s = new StringBuilder(t.text());
                while (peek().kind() == Kind.STRING) {
                    s.append(next().text());
                }
                return new Expr.Literal(s.toString());
            }
            case INTEGER -> {
                return new Expr.Literal(Long.parseLong(t.text()));
            }
            case FLOAT -> {
                return new Expr.Literal(Double.parseDouble(t.text()));
            }
            case OPERATOR -> {
                switch (t.text()) {
                    case "(" -> {
                        if (skip(Kind.OPERATOR, ")")) {
                            return new Expr.TupleOf(List.of());
                        }
                        Expr first = expression();
                        if (skip(Kind.OPERATOR, ")")) {
                            return first;
                        }
                        List<Expr> items = new ArrayList<>(List.of(first));
                        while (skip(Kind.OPERATOR, ",") && !peek().isOperator(")")) {
                            items.add(expression());
                        }
                        expect(Kind.OPERATOR, ")");
                        return new Expr.TupleOf(items);
                    }
                    case "[" -> {
                        List<Expr> items = new ArrayList<>();
                        while (!skip(Kind.OPERATOR, "]")) {
                            if (!items.isEmpty()) {
                                expect(Kind.OPERATOR, ",");
                                if (skip(Kind.OPERATOR, "]")) {
                                    break;
                                }
                            }
                            items.add(expression());
                        }
                        return new Expr.ListOf(items);
                    }
                    case "{" -> {
                        List<Expr> keys = new ArrayList<>();
                        List<Expr> values = new ArrayList<>();
                        while (!skip(Kind.OPERATOR, "}")) {
                            if (!keys.isEmpty()) {
                                expect(Kind.OPERATOR, ",");
                                if (skip(Kind.OPERATOR, "}")) {
                                    break;
                                }
                            }
                            keys.add(expression());
                            expect(Kind.OPERATOR, ":");
                            values.add(expression());
                        }
                        return new Expr.DictOf(keys, values);
                    }
                    default -> {}
                }
            }
            default -> {}
        }
        throw TemplateException.at(t.line(), "unexpected " + t + " in an expression");
    }
}
