package dev.katmesh.policy.jinja;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Jinja's built-in filters and tests, as Jinja 3.1 defines them, with transformers' tojson. */
final class Filters {

    private static final Pattern WORD = Pattern.compile("\\w+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WORD_BEGINNING = Pattern.compile("([-\\s({\\[<]+)");

    private Filters() {}

    static Object filter(String name, Object v, List<Object> a, Map<String, Object> k) {
        v = Py.normalize(v);
        if (v instanceof Py.Undefined u
                && !name.equals("default")
                && !name.equals("d")
                && !name.equals("length")
                && !name.equals("count")
                && !name.equals("list")
                && !name.equals("string")
                && !name.equals("tojson")) {
            throw u.error();
        }
        return switch (name) {
            case "length", "count" -> Py.len(v);
            case "tojson" ->
                new PythonJson(
                                Py.truthy(arg(a, k, 0, "ensure_ascii", false)),
                                arg(a, k, 1, "indent", null),
                                separator(arg(a, k, 2, "separators", null), 0),
                                separator(arg(a, k, 2, "separators", null), 1),
                                Py.truthy(arg(a, k, 3, "sort_keys", false)))
                        .write(v);
            case "default", "d" ->
                v instanceof Py.Undefined || (Py.truthy(arg(a, k, 1, "boolean", false)) && !Py.truthy(v))
                        ? arg(a, k, 0, "default_value", "")
                        : v;
            case "trim" -> Methods.strip(Py.str(v), arg(a, k, 0, "chars", null), true, true);
            case "upper" -> Py.str(v).toUpperCase(Locale.ROOT);
            case "lower" -> Py.str(v).toLowerCase(Locale.ROOT);
            case "capitalize" -> Methods.capitalize(Py.str(v));
            case "title" -> title(Py.str(v));
            case "replace" ->
                Methods.replace(Py.str(v), Py.str(a.get(0)), Py.str(a.get(1)), a.size() > 2 ? Py.asLong(a.get(2)) : -1);
            case "string" -> Py.str(v);
            case "list" -> Py.iterate(v);
            case "first" -> {
                List<Object> items = Py.iterate(v);
                yield items.isEmpty() ? new Py.Undefined("first") : items.get(0);
            }
            case "last" -> {
                List<Object> items = Py.iterate(v);
                yield items.isEmpty() ? new Py.Undefined("last") : items.get(items.size() - 1);
            }
            case "join" ->
                String.join(
                        Py.str(arg(a, k, 0, "d", "")),
                        attributes(Py.iterate(v), arg(a, k, 1, "attribute", null)).stream()
                                .map(Py::str)
                                .toList());
            case "int" -> toInt(v, arg(a, k, 0, "default", 0L));
            case "float" -> toFloat(v, arg(a, k, 0, "default", 0.0));
            case "abs" -> v instanceof Double d ? (Object) Math.abs(d) : (Object) Math.abs(Py.asLong(v));
            case "round" ->
                round(v, Py.asLong(arg(a, k, 0, "precision", 0L)), Py.str(arg(a, k, 1, "method", "common")));
            case "items" -> Methods.bind(v, "items").call(List.of(), Map.of());
            case "dictsort" -> {
                List<Object> pairs =
                        new ArrayList<>((List<?>) Methods.bind(v, "items").call(List.of(), Map.of()));
                int by = "value".equals(arg(a, k, 1, "by", "key")) ? 1 : 0;
                pairs.sort(Comparator.comparing(
                        p -> sortKey(((Py.Tuple) p).items().get(by), false), Py::compare));
                yield Py.truthy(arg(a, k, 2, "reverse", false)) ? reversed(pairs) : pairs;
            }
            case "map" -> {
                List<Object> out = new ArrayList<>();
                for (Object item : Py.iterate(v)) {
                    if (k.containsKey("attribute")) {
                        Object got = Renderer.lookupPath(item, Py.str(k.get("attribute")));
                        out.add(got instanceof Py.Undefined && k.containsKey("default") ? k.get("default") : got);
                    } else {
                        out.add(filter(Py.str(a.get(0)), item, a.subList(1, a.size()), Map.of()));
                    }
                }
                yield out;
            }
            case "select", "reject" ->
                Py.iterate(v).stream()
                        .filter(x -> (a.isEmpty() ? Py.truthy(x) : test(Py.str(a.get(0)), x, a.subList(1, a.size())))
                                == name.equals("select"))
                        .toList();
            case "selectattr", "rejectattr" ->
                Py.iterate(v).stream()
                        .filter(x -> {
                            Object field = Renderer.lookupPath(x, Py.str(a.get(0)));
                            boolean ok = a.size() < 2
                                    ? Py.truthy(field)
                                    : test(Py.str(a.get(1)), field, a.subList(2, a.size()));
                            return ok == name.equals("selectattr");
                        })
                        .toList();
            case "unique" -> {
                List<Object> out = new ArrayList<>();
                List<Object> keys = new ArrayList<>();
                for (Object x : Py.iterate(v)) {
                    Object key = sortKey(
                            lookup(x, arg(a, k, 1, "attribute", null)),
                            Py.truthy(arg(a, k, 0, "case_sensitive", false)));
                    if (keys.stream().noneMatch(seen -> Py.eq(seen, key))) {
                        keys.add(key);
                        out.add(x);
                    }
                }
                yield out;
            }
            case "reverse" ->
                v instanceof String s ? new StringBuilder(s).reverse().toString() : reversed(Py.iterate(v));
            case "sort" -> {
                boolean caseSensitive = Py.truthy(arg(a, k, 1, "case_sensitive", false));
                Object attribute = arg(a, k, 2, "attribute", null);
                List<Object> out = new ArrayList<>(Py.iterate(v));
                out.sort(Comparator.comparing(x -> sortKey(lookup(x, attribute), caseSensitive), Py::compare));
                yield Py.truthy(arg(a, k, 0, "reverse", false)) ? reversed(out) : out;
            }
            case "max", "min" -> {
                boolean caseSensitive = Py.truthy(arg(a, k, 0, "case_sensitive", false));
                Object attribute = arg(a, k, 1, "attribute", null);
                List<Object> items = Py.iterate(v);
                if (items.isEmpty()) {
                    yield new Py.Undefined(name);
                }
                Comparator<Object> order =
                        Comparator.comparing(x -> sortKey(lookup(x, attribute), caseSensitive), Py::compare);
                yield name.equals("max")
                        ? items.stream().max(order).get()
                        : items.stream().min(order).get();
            }
            case "sum" -> {
                Object total = arg(a, k, 1, "start", 0L);
                for (Object x : attributes(Py.iterate(v), arg(a, k, 0, "attribute", null))) {
                    total = Operators.binary("+", total, x);
                }
                yield total;
            }
            case "indent" ->
                indent(
                        Py.str(v),
                        arg(a, k, 0, "width", 4L),
                        Py.truthy(arg(a, k, 1, "first", false)),
                        Py.truthy(arg(a, k, 2, "blank", false)));
            case "wordcount" -> {
                Matcher m = WORD.matcher(Py.str(v));
                long n = 0;
                while (m.find()) {
                    n++;
                }
                yield n;
            }
            case "safe" -> v;
            case "e", "escape" ->
                Py.str(v)
                        .replace("&", "&amp;")
                        .replace("<", "&lt;")
                        .replace(">", "&gt;")
                        .replace("\"", "&#34;")
                        .replace("'", "&#39;");
            case "format" -> Operators.binary("%", Py.str(v), new Py.Tuple(a));
            case "attr" -> Renderer.attribute(v, Py.str(a.get(0)));
            case "center" -> {
                String s = Py.str(v);
                int width = (int) Py.asLong(arg(a, k, 0, "width", 80L));
                int pad = Math.max(0, width - s.length());
                int left = pad / 2 + (pad & width & 1);
                yield " ".repeat(left) + s + " ".repeat(pad - left);
            }
            default -> throw TemplateException.of("no filter named '" + name + "'");
        };
    }

    static boolean test(String name, Object v, List<Object> a) {
        v = Py.normalize(v);
        return switch (name) {
            case "defined" -> !(v instanceof Py.Undefined);
            case "undefined" -> v instanceof Py.Undefined;
            case "none" -> v == null;
            case "string" -> v instanceof String;
            case "number" -> v instanceof Long || v instanceof Double || v instanceof Boolean;
            case "integer" -> v instanceof Long;
            case "float" -> v instanceof Double;
            case "boolean" -> v instanceof Boolean;
            case "true" -> Boolean.TRUE.equals(v);
            case "false" -> Boolean.FALSE.equals(v);
            case "mapping" -> v instanceof Map<?, ?>;
            case "iterable" ->
                v instanceof String
                        || v instanceof Iterable<?>
                        || v instanceof Map<?, ?>
                        || v instanceof Py.Tuple
                        || v instanceof Py.Undefined;
            case "sequence" ->
                v instanceof String
                        || v instanceof List<?>
                        || v instanceof Map<?, ?>
                        || v instanceof Py.Tuple
                        || v instanceof Py.Undefined;
            case "callable" -> v instanceof Py.Callable;
            case "even" -> Py.asLong(v) % 2 == 0;
            case "odd" -> Py.asLong(v) % 2 != 0;
            case "divisibleby" -> Py.asLong(v) % Py.asLong(a.get(0)) == 0;
            case "eq", "equalto", "==" -> Py.eq(v, a.get(0));
            case "ne", "!=" -> !Py.eq(v, a.get(0));
            case "lt", "lessthan", "<" -> Py.compare(v, a.get(0)) < 0;
            case "le", "<=" -> Py.compare(v, a.get(0)) <= 0;
            case "gt", "greaterthan", ">" -> Py.compare(v, a.get(0)) > 0;
            case "ge", ">=" -> Py.compare(v, a.get(0)) >= 0;
            case "in" -> Py.contains(a.get(0), v);
            case "sameas" -> v == a.get(0) || (v != null && v.equals(a.get(0)) && (v instanceof Boolean));
            case "lower" -> v instanceof String s && s.equals(s.toLowerCase(Locale.ROOT));
            case "upper" -> v instanceof String s && s.equals(s.toUpperCase(Locale.ROOT));
            case "escaped" -> false;
            default -> throw TemplateException.of("no test named '" + name + "'");
        };
    }

    private static Object arg(List<Object> args, Map<String, Object> kwargs, int position, String name, Object dflt) {
        if (position < args.size()) {
            return args.get(position);
        }
        return kwargs.containsKey(name) ? kwargs.get(name) : dflt;
    }

    private static String separator(Object separators, int i) {
        List<?> parts = separators == null ? null : Py.iterate(separators);
        return parts == null ? null : Py.str(parts.get(i));
    }

    private static Object lookup(Object item, Object attribute) {
        return attribute == null ? item : Renderer.lookupPath(item, Py.str(attribute));
    }

    private static List<Object> attributes(List<Object> items, Object attribute) {
        return attribute == null
                ? items
                : items.stream().map(x -> lookup(x, attribute)).toList();
    }

    private static Object sortKey(Object v, boolean caseSensitive) {
        return !caseSensitive && v instanceof String s ? s.toLowerCase(Locale.ROOT) : v;
    }

    private static List<Object> reversed(List<Object> items) {
        List<Object> out = new ArrayList<>(items);
        Collections.reverse(out);
        return out;
    }

    /** Jinja's title: each word, split at whitespace, dashes and opening brackets, capitalised. */
    private static String title(String s) {
        StringBuilder out = new StringBuilder();
        Matcher m = WORD_BEGINNING.matcher(s);
        int from = 0;
        while (m.find()) {
            out.append(Methods.capitalize(s.substring(from, m.start()))).append(m.group());
            from = m.end();
        }
        return out.append(Methods.capitalize(s.substring(from))).toString();
    }

    private static Object toInt(Object v, Object dflt) {
        if (v instanceof Long || v instanceof Boolean) {
            return Py.asLong(v);
        }
        if (v instanceof Double d) {
            return (long) d.doubleValue();
        }
        try {
            return Long.parseLong(Py.str(v).strip().replace("_", ""));
        } catch (NumberFormatException e) {
            try {
                return (long) Double.parseDouble(Py.str(v).strip());
            } catch (NumberFormatException e2) {
                return dflt;
            }
        }
    }

    private static Object toFloat(Object v, Object dflt) {
        if (Py.isNumber(v)) {
            return Py.asDouble(v);
        }
        try {
            return Double.parseDouble(Py.str(v).strip());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    /** Python's round on the float's exact binary value (2.675 rounds to 2.67); Jinja's ceil and floor methods. */
    private static Object round(Object v, long precision, String method) {
        BigDecimal exact = new BigDecimal(Py.asDouble(v));
        RoundingMode mode = switch (method) {
            case "ceil" -> RoundingMode.CEILING;
            case "floor" -> RoundingMode.FLOOR;
            default -> RoundingMode.HALF_EVEN;
        };
        return exact.setScale((int) precision, mode).doubleValue();
    }

    private static String indent(String s, Object width, boolean first, boolean blank) {
        String pad = width instanceof String w ? w : " ".repeat((int) Py.asLong(width));
        List<Object> lines = Methods.splitlines(s + "\n");
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            String line = (String) lines.get(i);
            if (i > 0) {
                out.append('\n').append(blank || !line.isEmpty() ? pad : "");
            }
            out.append(line);
        }
        return (first ? pad : "") + out;
    }
}
