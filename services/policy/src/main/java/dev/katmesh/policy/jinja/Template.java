package dev.katmesh.policy.jinja;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A Jinja template as transformers renders chat templates: Jinja 2 syntax and semantics (Python values, slices,
 * namespace(), loop controls, macros, the built-in filters and tests), trim_blocks and lstrip_blocks, no HTML
 * escaping, and the globals transformers adds: raise_exception(message) and strftime_now(format). Values render
 * as data: a string that looks like template code is written as it is.
 *
 * <p>Parsed once, rendered any number of times; a template is immutable and safe to share between threads.
 */
public final class Template {

    private final List<Node> body;

    private Template(List<Node> body) {
        this.body = body;
    }

    /** Parses a template; a syntax error is a {@link TemplateException} naming the line. */
    public static Template parse(String source) {
        return new Template(Parser.parse(source));
    }

    /** Renders with these variables (plain maps, lists, strings, numbers, booleans and nulls). */
    public String render(Map<String, ?> variables) {
        Renderer.Scope globals = new Renderer.Scope(null);
        globals.set("raise_exception", (Py.Callable) (a, k) -> {
            throw new TemplateException(Py.str(a.isEmpty() ? "" : a.get(0)), true);
        });
        globals.set("strftime_now", (Py.Callable) (a, k) -> strftime(Py.str(a.get(0)), LocalDateTime.now()));
        globals.set("namespace", (Py.Callable) (a, k) -> {
            Py.Namespace ns = new Py.Namespace();
            if (!a.isEmpty() && a.get(0) instanceof Map<?, ?> m) {
                m.forEach((key, v) -> ns.attributes.put(Py.str(key), v));
            }
            ns.attributes.putAll(k);
            return ns;
        });
        globals.set("range", (Py.Callable) (a, k) -> range(a));
        globals.set("dict", (Py.Callable) (a, k) -> new LinkedHashMap<Object, Object>(k));
        Renderer.Scope scope = new Renderer.Scope(globals);
        variables.forEach(scope::set);
        StringBuilder out = new StringBuilder();
        new Renderer(out).render(body, scope);
        return out.toString();
    }

    private static List<Object> range(List<Object> a) {
        long start = a.size() > 1 ? Py.asLong(a.get(0)) : 0;
        long stop = Py.asLong(a.get(a.size() > 1 ? 1 : 0));
        long step = a.size() > 2 ? Py.asLong(a.get(2)) : 1;
        if (step == 0) {
            throw TemplateException.of("range() arg 3 must not be zero");
        }
        if ((stop - start) / step > 100_000) {
            throw TemplateException.of("range too big");
        }
        List<Object> out = new ArrayList<>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.add(i);
        }
        return out;
    }

    /** The strftime directives chat templates use for today's date (%d %b %Y, %B, %m, %y, %H:%M:%S, %A, %a). */
    static String strftime(String format, LocalDateTime now) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            String pattern = switch (d) {
                case 'd' -> "dd";
                case 'm' -> "MM";
                case 'Y' -> "yyyy";
                case 'y' -> "yy";
                case 'b' -> "MMM";
                case 'B' -> "MMMM";
                case 'a' -> "EEE";
                case 'A' -> "EEEE";
                case 'H' -> "HH";
                case 'M' -> "mm";
                case 'S' -> "ss";
                case 'j' -> "DDD";
                default -> null;
            };
            out.append(
                    pattern == null
                            ? (d == '%' ? "%" : "%" + d)
                            : now.format(DateTimeFormatter.ofPattern(pattern, Locale.ENGLISH)));
        }
        return out.toString();
    }
}
