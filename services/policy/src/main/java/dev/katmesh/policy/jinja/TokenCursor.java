package dev.katmesh.policy.jinja;

import dev.katmesh.policy.jinja.Token.Kind;
import java.util.List;

/** A position in a template's tokens, with the small steps both parsers take: look, take, skip, expect. */
abstract class TokenCursor {

    private final List<Token> tokens;
    int at;

    TokenCursor(List<Token> tokens) {
        this.tokens = tokens;
    }

    Token peek() {
        return tokens.get(at);
    }

    Token peek(int ahead) {
        return tokens.get(Math.min(at + ahead, tokens.size() - 1));
    }

    Token next() {
        Token t = tokens.get(at);
        if (t.kind() != Kind.END) {
            at++;
        }
        return t;
    }

    boolean skip(Kind kind, String text) {
        if (peek().is(kind, text)) {
            at++;
            return true;
        }
        return false;
    }

    Token expect(Kind kind, String what) {
        Token t = next();
        if (t.kind() != kind || (kind == Kind.OPERATOR && !t.text().equals(what))) {
            throw TemplateException.at(t.line(), "expected " + what + ", found " + t);
        }
        return t;
    }

    String name() {
        Token t = next();
        if (t.kind() != Kind.NAME) {
            throw TemplateException.at(t.line(), "expected a name, found " + t);
        }
        return t.text();
    }
}
