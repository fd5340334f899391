package dev.katmesh.policy.jinja;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Python's value semantics, which chat templates rely on: truthiness, str() and repr(), ==, ordering, arithmetic,
 * membership, indexing, slicing and iteration. Values are null (None), Boolean, Long, Double, String, List (list),
 * {@link Tuple}, Map (dict, insertion-ordered), {@link Namespace}, {@link Callable} and {@link Undefined}.
 */
final class Py {

    private Py() {}

    /** A name or attribute that does not exist: prints as "", is false, iterates empty; anything else fails. */
    record Undefined(String name) {
        TemplateException error() {
            return TemplateException.of("'" + name + "' is undefined");
        }
    }

    record Tuple(List<Object> items) {}

    /** namespace(...): the one object a template may assign attributes to, so values outlive a loop's scope. */
    static final class Namespace {
        final Map<String, Object> attributes = new LinkedHashMap<>();
    }

    @FunctionalInterface
    interface Callable {
        Object call(List<Object> args, Map<String, Object> kwargs);
    }

    /** Integers as Long, floats as Double, everything else as it is. */
    static Object normalize(Object v) {
        if (v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof Float f) {
            return f.doubleValue();
        }
        if (v instanceof BigInteger b) {
            return b.longValue();
        }
        return v;
    }

    static boolean truthy(Object v) {
        v = normalize(v);
        if (v == null || v instanceof Undefined) {
            return false;
        } else if (v instanceof Boolean b) {
            return b;
        } else if (v instanceof Long l) {
            return l != 0;
        } else if (v instanceof Double d) {
            return d != 0;
        } else if (v instanceof String s) {
            return !s.isEmpty();
        } else if (v instanceof Collection<?> c) {
            return !c.isEmpty();
        } else if (v instanceof Map<?, ?> m) {
            return !m.isEmpty();
        } else if (v instanceof Tuple t) {
            return !t.items().isEmpty();
        }
        return true;
    }

    static String str(Object v) {
        v = normalize(v);
        return v instanceof Undefined ? "" : v instanceof String s ? s : repr(v);
    }

    static String repr(Object v) {
        v = normalize(v);
        if (v == null) {
            return "None";
        } else if (v instanceof Undefined) {
            return "Undefined";
        } else if (v instanceof Boolean b) {
            return b ? "True" : "False";
        } else if (v instanceof Double d) {
            return floatRepr(d);
        } else if (v instanceof String s) {
            return stringRepr(s);
        } else if (v instanceof Tuple t) {
            return t.items().size() == 1 ? "(" + repr(t.items().get(0)) + ",)" : join("(", t.items(), ")");
        } else if (v instanceof Collection<?> c) {
            return join("[", c, "]");
        } else if (v instanceof Map<?, ?> m) {
            StringBuilder out = new StringBuilder("{");
            for (var e : m.entrySet()) {
                out.append(out.length() > 1 ? ", " : "")
                        .append(repr(e.getKey()))
                        .append(": ")
                        .append(repr(e.getValue()));
            }
            return out.append('}').toString();
        } else if (v instanceof Namespace n) {
            return "<Namespace " + repr(n.attributes) + ">";
        }
        return String.valueOf(v);
    }

    private static String join(String open, Collection<?> items, String close) {
        StringBuilder out = new StringBuilder(open);
        for (Object o : items) {
            out.append(out.length() > open.length() ? ", " : "").append(repr(o));
        }
        return out.append(close).toString();
    }

    /** Python's float repr: positional between 1e-4 and 1e16, else d.ddde+XX; always a '.' or an exponent. */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal exact = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        int exponent = exact.precision() - exact.scale() - 1;
        if (exponent >= -5 && exponent < 16) {
            String plain = exact.toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String digits = exact.unscaledValue().abs().toString();
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (d < 0 ? "-" : "") + mantissa + (exponent < 0 ? "e-" : "e+") + String.format("%02d", Math.abs(exponent));
    }

    static String stringRepr(String s) {
        char quote = s.contains("'") && !s.contains("\"") ? '"' : '\'';
        StringBuilder out = new StringBuilder().append(quote);
        s.codePoints().forEach(c -> {
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c == quote) {
                        out.append('\\').append((char) c);
                    } else if (c < 0x20 || c == 0x7f) {
                        out.append(String.format("\\x%02x", c));
                    } else {
                        out.appendCodePoint(c);
                    }
                }
            }
        });
        return out.append(quote).toString();
    }

    static boolean eq(Object a, Object b) {
        a = normalize(a);
        b = normalize(b);
        if (isNumber(a) && isNumber(b)) {
            return (a instanceof Double || b instanceof Double) ? asDouble(a) == asDouble(b) : asLong(a) == asLong(b);
        }
        if (a instanceof Tuple t) {
            a = t.items();
        }
        if (b instanceof Tuple t) {
            b = t.items();
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            if (x.size() != y.size()) {
                return false;
            }
            for (int i = 0; i < x.size(); i++) {
                if (!eq(x.get(i), y.get(i))) {
                    return false;
                }
            }
            return true;
        }
        if (a instanceof Undefined || b instanceof Undefined) {
            return a instanceof Undefined && b instanceof Undefined;
        }
        return Objects.equals(a, b);
    }

    static int compare(Object a, Object b) {
        a = normalize(a);
        b = normalize(b);
        if (isNumber(a) && isNumber(b)) {
            return (a instanceof Double || b instanceof Double)
                    ? Double.compare(asDouble(a), asDouble(b))
                    : Long.compare(asLong(a), asLong(b));
        }
        if (a instanceof String x && b instanceof String y) {
            return x.compareTo(y);
        }
        if (a instanceof List<?> x && b instanceof List<?> y) {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                int c = compare(x.get(i), y.get(i));
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(x.size(), y.size());
        }
        throw TemplateException.of("'<' not supported between " + typeName(a) + " and " + typeName(b));
    }

    static boolean isNumber(Object v) {
        return v instanceof Long || v instanceof Double || v instanceof Boolean || v instanceof Integer;
    }

    static long asLong(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) normalize(v)).longValue();
    }

    static double asDouble(Object v) {
        return v instanceof Boolean b ? (b ? 1 : 0) : ((Number) normalize(v)).doubleValue();
    }

    static String typeName(Object v) {
        v = normalize(v);
        return v == null
                ? "NoneType"
                : v instanceof Undefined
                        ? "Undefined"
                        : v instanceof Boolean
                                ? "bool"
                                : v instanceof Long
                                        ? "int"
                                        : v instanceof Double
                                                ? "float"
                                                : v instanceof String
                                                        ? "str"
                                                        : v instanceof Tuple
                                                                ? "tuple"
                                                                : v instanceof List<?>
                                                                        ? "list"
                                                                        : v instanceof Map<?, ?>
                                                                                ? "dict"
                                                                                : v.getClass()
                                                                                        .getSimpleName();
    }

    /** The items a for loop visits: a list's or tuple's items, a dict's keys, a string's characters. */
    static List<Object> iterate(Object v) {
        v = normalize(v);
        if (v instanceof Undefined) {
            return List.of();
        } else if (v instanceof Tuple t) {
            return t.items();
        } else if (v instanceof Collection<?> c) {
            return new ArrayList<>(c);
        } else if (v instanceof Map<?, ?> m) {
            return new ArrayList<>(m.keySet());
        } else if (v instanceof String s) {
            return new ArrayList<>(s.codePoints().mapToObj(Character::toString).toList());
        }
        throw TemplateException.of("'" + typeName(v) + "' object is not iterable");
    }

    static long len(Object v) {
        v = normalize(v);
        if (v instanceof Undefined) {
            return 0;
        } else if (v instanceof String s) {
            return s.codePointCount(0, s.length());
        } else if (v instanceof Collection<?> c) {
            return c.size();
        } else if (v instanceof Map<?, ?> m) {
            return m.size();
        } else if (v instanceof Tuple t) {
            return t.items().size();
        }
        throw TemplateException.of("object of type '" + typeName(v) + "' has no len()");
    }

    static boolean contains(Object container, Object item) {
        container = normalize(container);
        if (container instanceof String s) {
            if (!(item instanceof String sub)) {
                throw TemplateException.of("'in <string>' requires string as left operand, not " + typeName(item));
            }
            return s.contains(sub);
        }
        if (container instanceof Map<?, ?> m) {
            return m.keySet().stream().anyMatch(k -> eq(k, item));
        }
        return iterate(container).stream().anyMatch(x -> eq(x, item));
    }

    /** obj[key]: a dict's value, a sequence's item (negative from the end); missing is undefined. */
    static Object item(Object target, Object key) {
        target = normalize(target);
        key = normalize(key);
        if (target instanceof Undefined u) {
            throw u.error();
        }
        if (target instanceof Map<?, ?> m) {
            return m.containsKey(key) ? normalize(m.get(key)) : new Undefined(String.valueOf(key));
        }
        if (key instanceof Long || key instanceof Boolean) {
            List<?> items = target instanceof String ? iterate(target) : sequence(target);
            if (items != null) {
                long i = asLong(key);
                i = i < 0 ? i + items.size() : i;
                return i >= 0 && i < items.size() ? normalize(items.get((int) i)) : new Undefined(String.valueOf(key));
            }
        }
        return new Undefined(String.valueOf(key));
    }

    static List<?> sequence(Object v) {
        return v instanceof Tuple t ? t.items() : v instanceof List<?> l ? l : null;
    }

    /** obj[start:stop:step] with Python's clamping and negative indices. */
    static Object slice(Object target, Object start, Object stop, Object step) {
        target = normalize(target);
        if (target instanceof Undefined u) {
            throw u.error();
        }
        List<?> items = target instanceof String ? iterate(target) : sequence(target);
        if (items == null) {
            throw TemplateException.of("'" + typeName(target) + "' object is not subscriptable");
        }
        long n = items.size();
        long st = step == null ? 1 : asLong(step);
        if (st == 0) {
            throw TemplateException.of("slice step cannot be zero");
        }
        long lo = bound(start, n, st > 0 ? 0 : n - 1, st);
        long hi = bound(stop, n, st > 0 ? n : -1, st);
        List<Object> out = new ArrayList<>();
        for (long i = lo; st > 0 ? i < hi : i > hi; i += st) {
            out.add(items.get((int) i));
        }
        if (target instanceof String) {
            return String.join("", out.stream().map(o -> (String) o).toList());
        }
        return target instanceof Tuple ? new Tuple(out) : out;
    }

    private static long bound(Object index, long n, long dflt, long step) {
        if (index == null) {
            return dflt;
        }
        long i = asLong(index);
        if (i < 0) {
            i += n;
        }
        return step > 0 ? Math.max(0, Math.min(i, n)) : Math.max(-1, Math.min(i, n - 1));
    }
}
