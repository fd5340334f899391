package dev.katmesh.policy.jinja;

import dev.katmesh.policy.jinja.Token.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits a template into tokens with Jinja's whitespace rules as transformers configures them: {@code trim_blocks}
 * (the first newline after a block or comment tag is dropped) and {@code lstrip_blocks} (spaces and tabs before a
 * block or comment tag at the start of a line are dropped), {@code -} beside a delimiter strips all whitespace on
 * that side, {@code +} keeps it. Newlines in the template source are normalised to "\n", as Jinja does.
 */
final class Lexer {

    private static final Pattern RAW_BEGIN = Pattern.compile("\\G\\s*raw\\s*(-?)%}");
    private static final Pattern RAW_END = Pattern.compile("\\{%([-+]?)\\s*endraw\\s*([-+]?)%}");
    private static final Pattern NAME = Pattern.compile("\\G[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Pattern FLOAT =
            Pattern.compile("\\G(\\d+_)*\\d+((\\.(\\d+_)*\\d+)?[eE][+\\-]?(\\d+_)*\\d+|\\.(\\d+_)*\\d+)");
    private static final Pattern INTEGER = Pattern.compile("\\G(\\d+_)*\\d+");
    private static final List<String> OPERATORS = List.of(
            "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{",
            "}", ",", ".", ":", "|");

    private final String src;
    private final List<Token> out = new ArrayList<>();
    private int pos;
    private int line = 1;
    /** Whether the text about to be read starts a line (lstrip_blocks applies to a tag at its start). */
    private boolean lineStarting = true;

    private Lexer(String source) {
        this.src = source.replace("\r\n", "\n").replace('\r', '\n');
    }

    static List<Token> tokenize(String source) {
        Lexer lexer = new Lexer(source);
        lexer.run();
        return lexer.out;
    }

    private void run() {
        while (pos < src.length()) {
            int tag = nextTag(pos);
            String text = src.substring(pos, tag < 0 ? src.length() : tag);
            if (tag < 0) {
                text(text);
                pos = src.length();
                break;
            }
            char kind = src.charAt(tag + 1);
            char marker = tag + 2 < src.length() ? src.charAt(tag + 2) : ' ';
            if (marker == '-') {
                text = text.stripTrailing();
            } else if (kind != '{' && marker != '+') {
                int lineStart = text.lastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && isBlank(text, lineStart)) {
                    text = text.substring(0, lineStart);
                }
            }
            text(text);
            line += newlines(src, pos, tag);
            pos = tag + 2 + (marker == '-' || marker == '+' ? 1 : 0);
            switch (kind) {
                case '#' -> comment();
                case '%' -> {
                    if (!raw()) {
                        tag(Kind.BLOCK_BEGIN, Kind.BLOCK_END, "%}");
                    }
                }
                default -> tag(Kind.VARIABLE_BEGIN, Kind.VARIABLE_END, "}}");
            }
            lineStarting = pos > 0 && src.charAt(pos - 1) == '\n';
        }
        out.add(new Token(Kind.END, "", line));
    }

    private int nextTag(int from) {
        int at = src.indexOf('{', from);
        while (at >= 0 && at + 1 < src.length()) {
            char c = src.charAt(at + 1);
            if (c == '{' || c == '%' || c == '#') {
                return at;
            }
            at = src.indexOf('{', at + 1);
        }
        return -1;
    }

    private void text(String text) {
        if (!text.isEmpty()) {
            out.add(new Token(Kind.TEXT, text, line));
        }
    }

    private void comment() {
        int end = src.indexOf("#}", pos);
        if (end < 0) {
            throw TemplateException.at(line, "comment not closed with #}");
        }
        char before = src.charAt(end - 1);
        int start = pos;
        line += newlines(src, pos, end);
        pos = end + 2;
        boolean inBody = end - 1 >= start;
        closeTag(inBody && before == '-' ? '-' : inBody && before == '+' ? '+' : ' ', true);
    }

    /** After a tag's closer: '-' strips all following whitespace; trim_blocks drops one newline unless '+'. */
    private void closeTag(char marker, boolean block) {
        if (marker == '-') {
            int start = pos;
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
                pos++;
            }
            line += newlines(src, start, pos);
        } else if (block && marker != '+' && pos < src.length() && src.charAt(pos) == '\n') {
            pos++;
            line++;
        }
    }

    private boolean raw() {
        Matcher begin = RAW_BEGIN.matcher(src).region(pos, src.length());
        if (!begin.lookingAt()) {
            return false;
        }
        Matcher end = RAW_END.matcher(src);
        if (!end.find(begin.end())) {
            throw TemplateException.at(line, "raw block not closed with endraw");
        }
        String body = src.substring(begin.end(), end.start());
        if (begin.group(1).equals("-")) {
            body = body.stripLeading();
        }
        if (end.group(1).equals("-")) {
            body = body.stripTrailing();
        }
        text(body);
        line += newlines(src, pos, end.end());
        pos = end.end();
        closeTag(end.group(2).isEmpty() ? ' ' : end.group(2).charAt(0), true);
        return true;
    }

    /** The expression tokens of one {{ }} or {% %} tag, up to its closer at bracket depth zero. */
    private void tag(Kind begin, Kind end, String closer) {
        out.add(new Token(begin, "", line));
        int depth = 0;
        while (true) {
            while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
                line += src.charAt(pos) == '\n' ? 1 : 0;
                pos++;
            }
            if (pos >= src.length()) {
                throw TemplateException.at(line, "tag not closed with " + closer);
            }
            if (depth == 0) {
                for (char marker : new char[] {'-', '+', ' '}) {
                    String full = marker == ' ' ? closer : marker + closer;
                    if (src.startsWith(full, pos) && (marker != '+' || end == Kind.BLOCK_END)) {
                        pos += full.length();
                        out.add(new Token(end, "", line));
                        closeTag(marker, end == Kind.BLOCK_END);
                        return;
                    }
                }
            }
            depth += expressionToken();
        }
    }

    /** Reads one expression token; answers the change in bracket depth. */
    private int expressionToken() {
        char c = src.charAt(pos);
        if (c == '\'' || c == '"') {
            out.add(new Token(Kind.STRING, string(c), line));
            return 0;
        }
        for (var kind : List.of(Kind.FLOAT, Kind.INTEGER, Kind.NAME)) {
            Matcher m = (kind == Kind.FLOAT ? FLOAT : kind == Kind.INTEGER ? INTEGER : NAME)
                    .matcher(src)
                    .region(pos, src.length());
            if (m.lookingAt()) {
                out.add(new Token(
                        kind, kind == Kind.NAME ? m.group() : m.group().replace("_", ""), line));
                pos = m.end();
                return 0;
            }
        }
        for (String op : OPERATORS) {
            if (src.startsWith(op, pos)) {
                out.add(new Token(Kind.OPERATOR, op, line));
                pos += op.length();
                return switch (op) {
                    case "(", "[", "{" -> 1;
                    case ")", "]", "}" -> -1;
                    default -> 0;
                };
            }
        }
        throw TemplateException.at(line, "unexpected character '" + c + "'");
    }

    /** A string literal with Python's escapes; an unknown escape keeps its backslash, as Python does. */
    private String string(char quote) {
        StringBuilder value = new StringBuilder();
        int i = pos + 1;
        while (i < src.length() && src.charAt(i) != quote) {
            char c = src.charAt(i++);
            if (c != '\\' || i >= src.length()) {
                line += c == '\n' ? 1 : 0;
                value.append(c);
                continue;
            }
            char e = src.charAt(i++);
            switch (e) {
                case 'n' -> value.append('\n');
                case 't' -> value.append('\t');
                case 'r' -> value.append('\r');
                case 'b' -> value.append('\b');
                case 'f' -> value.append('\f');
                case '0' -> value.append('\0');
                case '\\', '\'', '"' -> value.append(e);
                case '\n' -> line++;
                case 'x', 'u', 'U' -> {
                    int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    value.appendCodePoint(Integer.parseInt(src.substring(i, i + digits), 16));
                    i += digits;
                }
                default -> value.append('\\').append(e);
            }
        }
        if (i >= src.length()) {
            throw TemplateException.at(line, "string not closed with " + quote);
        }
        pos = i + 1;
        return value.toString();
    }

    private static boolean isBlank(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) != ' ' && s.charAt(i) != '\t') {
                return false;
            }
        }
        return true;
    }

    private static int newlines(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) {
            n += s.charAt(i) == '\n' ? 1 : 0;
        }
        return n;
    }
}
