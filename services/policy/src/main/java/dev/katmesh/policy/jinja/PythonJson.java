package dev.katmesh.policy.jinja;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Python's json.dumps as transformers' tojson calls it: ensure_ascii=False by default, ", " and ": " separators
 * ("," and ": " with an indent), floats as Python writes them, keys in insertion order unless sorted.
 */
public final class PythonJson {

    private final boolean ensureAscii;
    private final String indent;
    private final String itemSeparator;
    private final String keySeparator;
    private final boolean sortKeys;

    PythonJson(boolean ensureAscii, Object indent, String itemSeparator, String keySeparator, boolean sortKeys) {
        this.ensureAscii = ensureAscii;
        this.indent = indent == null ? null : indent instanceof String s ? s : " ".repeat((int) Py.asLong(indent));
        this.itemSeparator = itemSeparator != null ? itemSeparator : this.indent == null ? ", " : ",";
        this.keySeparator = keySeparator != null ? keySeparator : ": ";
        this.sortKeys = sortKeys;
    }

    /** json.dumps(value, ensure_ascii=False): what chat templates write for tools and arguments. */
    public static String dumps(Object value) {
        return new PythonJson(false, null, null, null, false).write(value);
    }

    String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out, 0);
        return out.toString();
    }

    private void write(Object v, StringBuilder out, int depth) {
        v = Py.normalize(v);
        if (v == null) {
            out.append("null");
        } else if (v instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (v instanceof Long l) {
            out.append(l);
        } else if (v instanceof Double d) {
            out.append(d.isNaN() ? "NaN" : d.isInfinite() ? (d > 0 ? "Infinity" : "-Infinity") : Py.floatRepr(d));
        } else if (v instanceof String s) {
            string(s, out);
        } else if (v instanceof Map<?, ?> m) {
            List<Map.Entry<?, ?>> entries = new ArrayList<>(m.entrySet());
            if (sortKeys) {
                entries.sort((a, b) -> Py.compare(a.getKey(), b.getKey()));
            }
            container('{', '}', entries, out, depth, (e, o) -> {
                string(e.getKey() instanceof String k ? k : Py.str(e.getKey()), o);
                o.append(keySeparator);
                write(e.getValue(), o, depth + 1);
            });
        } else if (v instanceof Py.Tuple t) {
            write(t.items(), out, depth);
        } else if (v instanceof Collection<?> c) {
            container('[', ']', new ArrayList<>(c), out, depth, (e, o) -> write(e, o, depth + 1));
        } else {
            throw TemplateException.of("Object of type " + Py.typeName(v) + " is not JSON serializable");
        }
    }

    private <T> void container(
            char open, char close, List<T> items, StringBuilder out, int depth, BiConsumer<T, StringBuilder> each) {
        out.append(open);
        if (items.isEmpty()) {
            out.append(close);
            return;
        }
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) {
                out.append(itemSeparator);
            }
            newline(out, depth + 1);
            each.accept(items.get(i), out);
        }
        newline(out, depth);
        out.append(close);
    }

    private void newline(StringBuilder out, int depth) {
        if (indent != null) {
            out.append('\n').append(indent.repeat(depth));
        }
    }

    private void string(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7f)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
