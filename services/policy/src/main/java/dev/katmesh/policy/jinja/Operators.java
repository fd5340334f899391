package dev.katmesh.policy.jinja;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Python's arithmetic: int with int stays int, a float makes float, / is always float, // and % floor. */
final class Operators {

    private Operators() {}

    static Object binary(String op, Object a, Object b) {
        a = Py.normalize(a);
        b = Py.normalize(b);
        if (op.equals("~")) {
            return Py.str(a) + Py.str(b);
        }
        if (a instanceof Py.Undefined u) {
            throw u.error();
        }
        if (b instanceof Py.Undefined u) {
            throw u.error();
        }
        if (Py.isNumber(a) && Py.isNumber(b)) {
            return numeric(op, a, b);
        }
        switch (op) {
            case "+" -> {
                if (a instanceof String x && b instanceof String y) {
                    return x + y;
                }
                if (a instanceof List<?> x && b instanceof List<?> y) {
                    List<Object> out = new ArrayList<>(x);
                    out.addAll(y);
                    return out;
                }
                if (a instanceof Py.Tuple x && b instanceof Py.Tuple y) {
                    List<Object> out = new ArrayList<>(x.items());
                    out.addAll(y.items());
                    return new Py.Tuple(out);
                }
            }
            case "*" -> {
                if (b instanceof String || b instanceof List<?>) {
                    return binary("*", b, a);
                }
                if (a instanceof String s && b instanceof Long n) {
                    return s.repeat((int) Math.max(0, n));
                }
                if (a instanceof List<?> l && b instanceof Long n) {
                    List<Object> out = new ArrayList<>();
                    for (long i = 0; i < n; i++) {
                        out.addAll(l);
                    }
                    return out;
                }
            }
            case "%" -> {
                if (a instanceof String format) {
                    return percentFormat(format, b);
                }
            }
            default -> {}
        }
        throw TemplateException.of(
                "unsupported operand type(s) for " + op + ": '" + Py.typeName(a) + "' and '" + Py.typeName(b) + "'");
    }

    private static Object numeric(String op, Object a, Object b) {
        boolean floats = a instanceof Double || b instanceof Double;
        double x = Py.asDouble(a);
        double y = Py.asDouble(b);
        long i = floats ? 0 : Py.asLong(a);
        long j = floats ? 0 : Py.asLong(b);
        if ((op.equals("/") || op.equals("//") || op.equals("%")) && y == 0) {
            throw TemplateException.of("division by zero");
        }
        return switch (op) {
            case "+" -> floats ? (Object) (x + y) : (Object) (i + j);
            case "-" -> floats ? (Object) (x - y) : (Object) (i - j);
            case "*" -> floats ? (Object) (x * y) : (Object) (i * j);
            case "/" -> x / y;
            case "//" -> floats ? (Object) Math.floor(x / y) : (Object) Math.floorDiv(i, j);
            case "%" -> floats ? (Object) (x - Math.floor(x / y) * y) : (Object) Math.floorMod(i, j);
            case "**" -> floats || j < 0 ? (Object) Math.pow(x, y) : (Object) power(i, j);
            default -> throw TemplateException.of("unknown operator " + op);
        };
    }

    private static long power(long base, long exponent) {
        long result = 1;
        for (long k = 0; k < exponent; k++) {
            result = Math.multiplyExact(result, base);
        }
        return result;
    }

    static Object negate(Object v) {
        v = Py.normalize(v);
        if (v instanceof Double d) {
            return -d;
        }
        if (Py.isNumber(v)) {
            return -Py.asLong(v);
        }
        throw TemplateException.of("bad operand type for unary -: '" + Py.typeName(v) + "'");
    }

    /** "format" % args with %s, %r, %d, %i, %f (with precision) and %%. */
    private static String percentFormat(String format, Object args) {
        List<Object> values = args instanceof Py.Tuple t ? t.items() : Collections.singletonList(args);
        StringBuilder out = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 >= format.length()) {
                out.append(c);
                continue;
            }
            int spec = i + 1;
            while (spec < format.length() && "0123456789.-+ ".indexOf(format.charAt(spec)) >= 0) {
                spec++;
            }
            char conv = format.charAt(spec);
            String flags = format.substring(i + 1, spec);
            if (conv == '%') {
                out.append('%');
            } else {
                if (next >= values.size()) {
                    throw TemplateException.of("not enough arguments for format string");
                }
                Object v = values.get(next++);
                out.append(
                        switch (conv) {
                            case 's' -> String.format("%" + flags + "s", Py.str(v));
                            case 'r' -> String.format("%" + flags + "s", Py.repr(v));
                            case 'd', 'i' -> String.format("%" + flags + "d", (long) Py.asDouble(v));
                            case 'f' -> String.format("%" + (flags.isEmpty() ? ".6" : flags) + "f", Py.asDouble(v));
                            default -> throw TemplateException.of("unsupported format character '" + conv + "'");
                        });
            }
            i = spec;
        }
        if (next < values.size()) {
            throw TemplateException.of("not all arguments converted during string formatting");
        }
        return out.toString();
    }
}
