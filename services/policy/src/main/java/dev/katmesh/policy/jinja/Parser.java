package dev.katmesh.policy.jinja;

import dev.katmesh.policy.jinja.Token.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Jinja's statements (if, for, set, macro, filter, generation, break, continue) over its expressions. */
final class Parser extends ExpressionParser {

    private Parser(List<Token> tokens) {
        super(tokens);
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
