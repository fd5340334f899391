package dev.katmesh.policy.jinja;

import dev.katmesh.policy.jinja.Token.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A recursive-descent parser with Jinja's grammar and operator precedence, loosest first: conditional, or, and,
 * not, comparisons and in, + -, ~, * / // %, **, unary - +, then a primary with its postfixes (.attr, [item],
 * (call)) and its filters and tests (| and is), which bind tightest.
 */
final class Parser {

    private static final Set<String> COMPARISONS = Set.of("==", "!=", "<", "<=", ">", ">=");

    private final List<Token> tokens;
    private int at;

    private Parser(List<Token> tokens) {
        this.tokens = tokens;
    }

    static List<Node> parse(String source) {
        Parser p = new Parser(Lexer.tokenize(source));
        List<Node> body = p.body(Set.of());
        if (p.peek().kind() != Kind.END) {
            throw TemplateException.at(p.peek().line(), "unexpected tag " + p.peek(1));
        }
        return body;
    }

    /** Statements up to (not consuming) a block tag whose keyword is in {@code enders}, or the end. */
    private List<Node> body(Set<String> enders) {
        List<Node> nodes = new ArrayList<>();
        while (true) {
            Token t = next();
            switch (t.kind()) {
                case TEXT -> nodes.add(new Node.Text(t.text()));
                case VARIABLE_BEGIN -> {
                    nodes.add(new Node.Output(expression()));
                    expect(Kind.VARIABLE_END, "}}");
                }
                case BLOCK_BEGIN -> {
                    Token keyword = peek();
                    if (keyword.kind() == Kind.NAME && enders.contains(keyword.text())) {
                        at--;
                        return nodes;
                    }
                    nodes.add(statement());
                }
                case END -> {
                    if (!enders.isEmpty()) {
                        throw TemplateException.at(t.line(), "missing " + String.join(" or ", enders));
                    }
                    return nodes;
                }
                default -> throw TemplateException.at(t.line(), "unexpected " + t);
            }
        }
    }

    private Node statement() {
        Token keyword = next();
        if (keyword.kind() != Kind.NAME) {
            throw TemplateException.at(keyword.line(), "expected a statement, found " + keyword);
        }
        return switch (keyword.text()) {
            case "if" -> ifStatement();
            case "for" -> forStatement(keyword.line());
            case "set" -> setStatement(keyword.line());
            case "macro" -> macro();
            case "filter" -> filterBlock();
            case "generation" -> {
                // transformers' {% generation %} marks assistant text for masks; its body renders as it is.
                endTag();
                List<Node> body = body(Set.of("endgeneration"));
                closeBlock("endgeneration");
                yield new Node.If(List.of(new Expr.Literal(true)), List.of(body), List.of());
            }
            case "break", "continue" -> {
                endTag();
                yield new Node.LoopControl(keyword.text().equals("break"));
            }
            default -> throw TemplateException.at(keyword.line(), "unknown statement '" + keyword.text() + "'");
        };
    }

    private Node ifStatement() {
        List<Expr> tests = new ArrayList<>();
        List<List<Node>> branches = new ArrayList<>();
        List<Node> orElse = List.of();
        tests.add(expression());
        endTag();
        while (true) {
            branches.add(body(Set.of("elif", "else", "endif")));
            expect(Kind.BLOCK_BEGIN, "{%");
            String word = next().text();
            if (word.equals("elif")) {
                tests.add(expression());
                endTag();
            } else if (word.equals("else")) {
                endTag();
                orElse = body(Set.of("endif"));
                closeBlock("endif");
                break;
            } else {
                endTag();
                break;
            }
        }
        return new Node.If(tests, branches, orElse);
    }

    private Node forStatement(int line) {
        List<String> targets = new ArrayList<>();
        do {
            targets.add(name());
        } while (skip(Kind.OPERATOR, ","));
        if (!next().isName("in")) {
            throw TemplateException.at(line, "expected 'in' in for");
        }
        Expr iterable = conditionalFree();
        Expr filter = skip(Kind.NAME, "if") ? expression() : null;
        skip(Kind.NAME, "recursive");
        endTag();
        List<Node> body = body(Set.of("else", "endfor"));
        List<Node> orElse = List.of();
        expect(Kind.BLOCK_BEGIN, "{%");
        if (next().text().equals("else")) {
            endTag();
            orElse = body(Set.of("endfor"));
            closeBlock("endfor");
        } else {
            endTag();
        }
        return new Node.For(targets, iterable, filter, body, orElse, line);
    }

    private Node setStatement(int line) {
        List<String> targets = new ArrayList<>();
        targets.add(name());
        String attribute = null;
        if (skip(Kind.OPERATOR, ".")) {
            attribute = name();
        }
        while (skip(Kind.OPERATOR, ",")) {
            targets.add(name());
        }
        if (skip(Kind.OPERATOR, "=")) {
            Expr value = expression();
            if (peek().isOperator(",")) {
                List<Expr> items = new ArrayList<>(List.of(value));
                while (skip(Kind.OPERATOR, ",")) {
                    items.add(expression());
                }
                value = new Expr.TupleOf(items);
            }
            endTag();
            return new Node.Set(targets, attribute, value, line);
        }
        Expr.Filter filter = peek().isOperator("|") ? filters(new Expr.Literal(null)) : null;
        endTag();
        List<Node> body = body(Set.of("endset"));
        closeBlock("endset");
        return new Node.SetBlock(targets.get(0), body, filter);
    }

    private Node macro() {
        String name = name();
        expect(Kind.OPERATOR, "(");
        List<String> params = new ArrayList<>();
        List<Expr> defaults = new ArrayList<>();
        while (!skip(Kind.OPERATOR, ")")) {
            if (!params.isEmpty()) {
                expect(Kind.OPERATOR, ",");
            }
            params.add(name());
            defaults.add(skip(Kind.OPERATOR, "=") ? expression() : null);
        }
        endTag();
        List<Node> body = body(Set.of("endmacro"));
        closeBlock("endmacro");
        return new Node.Macro(name, params, defaults, body);
    }

    private Node filterBlock() {
        Expr.Filter filter = filters(new Expr.Literal(null));
        endTag();
        List<Node> body = body(Set.of("endfilter"));
        closeBlock("endfilter");
        return new Node.FilterBlock(filter, body);
    }

    /** Filters after a value: {@code name(args) | name ...}, chained. */
    private Expr.Filter filters(Expr value) {
        Expr result = value;
        while (skip(Kind.OPERATOR, "|")) {
            result = filter(result);
        }
        return (Expr.Filter) result;
    }

    // --- expressions, loosest binding first ---

    Expr expression() {
        Expr value = conditionalFree();
        while (skip(Kind.NAME, "if")) {
            Expr test = conditionalFree();
            Expr orElse = skip(Kind.NAME, "else") ? expression() : null;
            value = new Expr.Conditional(test, value, orElse);
        }
        return value;
    }

    private Expr conditionalFree() {
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

    private Expr filter(Expr value) {
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

    // --- token helpers ---

    private Token peek() {
        return tokens.get(at);
    }

    private Token peek(int ahead) {
        return tokens.get(Math.min(at + ahead, tokens.size() - 1));
    }

    private Token next() {
        Token t = tokens.get(at);
        if (t.kind() != Kind.END) {
            at++;
        }
        return t;
    }

    private boolean skip(Kind kind, String text) {
        if (peek().is(kind, text)) {
            at++;
            return true;
        }
        return false;
    }

    private Token expect(Kind kind, String what) {
        Token t = next();
        if (t.kind() != kind || (kind == Kind.OPERATOR && !t.text().equals(what))) {
            throw TemplateException.at(t.line(), "expected " + what + ", found " + t);
        }
        return t;
    }

    private String name() {
        Token t = next();
        if (t.kind() != Kind.NAME) {
            throw TemplateException.at(t.line(), "expected a name, found " + t);
        }
        return t.text();
    }

    private void endTag() {
        expect(Kind.BLOCK_END, "%}");
    }

    /** {% word %} closing a block; the {% has been seen by body() but not consumed. */
    private void closeBlock(String word) {
        expect(Kind.BLOCK_BEGIN, "{%");
        if (!next().isName(word)) {
            throw TemplateException.at(peek().line(), "expected " + word);
        }
        endTag();
    }
}
