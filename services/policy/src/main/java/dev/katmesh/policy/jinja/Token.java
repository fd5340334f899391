package dev.katmesh.policy.jinja;

/** One lexical unit of a template: raw text, a tag boundary, or a piece of an expression inside a tag. */
record Token(Kind kind, String text, int line) {

    enum Kind {
        TEXT,
        VARIABLE_BEGIN,
        VARIABLE_END,
        BLOCK_BEGIN,
        BLOCK_END,
        NAME,
        STRING,
        INTEGER,
        FLOAT,
        OPERATOR,
        END
    }

    boolean is(Kind k, String t) {
        return kind == k && text.equals(t);
    }

    boolean isName(String name) {
        return is(Kind.NAME, name);
    }

    boolean isOperator(String op) {
        return is(Kind.OPERATOR, op);
    }

    @Override
    public String toString() {
        return kind == Kind.END ? "end of template" : "'" + text + "'";
    }
}
