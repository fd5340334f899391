package dev.katmesh.policy.jinja;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The methods of str, dict and list that templates call ({@code content.split('</think>')}, {@code d.items()}),
 * with Python's semantics. The mutating ones (append, update) are absent, as in transformers' immutable sandbox.
 */
final class Methods {

    private Methods() {}

    /** obj.name as a bound method, or null when the type has no such method. */
    static Py.Callable bind(Object target, String name) {
        if (target instanceof String s) {
            return string(s, name);
        }
        if (target instanceof Map<?, ?> m) {
            return switch (name) {
                case "items" ->
                    (a, k) -> m.entrySet().stream()
                            .map(e -> (Object) new Py.Tuple(List.of(e.getKey(), Py.normalize(e.getValue()))))
                            .toList();
                case "keys" -> (a, k) -> new ArrayList<Object>(m.keySet());
                case "values" ->
                    (a, k) -> m.values().stream().map(Py::normalize).toList();
                case "get" ->
                    (a, k) -> m.containsKey(a.get(0)) ? Py.normalize(m.get(a.get(0))) : a.size() > 1 ? a.get(1) : null;
                default -> null;
            };
        }
        List<?> items = Py.sequence(target);
        if (items != null) {
            return switch (name) {
                case "count" ->
                    (a, k) -> items.stream().filter(x -> Py.eq(x, a.get(0))).count();
                case "index" ->
                    (a, k) -> {
                        for (int i = 0; i < items.size(); i++) {
                            if (Py.eq(items.get(i), a.get(0))) {
                                return (long) i;
                            }
                        }
                        throw TemplateException.of(Py.repr(a.get(0)) + " is not in list");
                    };
                default -> null;
            };
        }
        return null;
    }

    private static Py.Callable string(String s, String name) {
        return switch (name) {
            case "split" -> (a, k) -> split(s, arg(a, k, 0, "sep"), arg(a, k, 1, "maxsplit"), false);
            case "rsplit" -> (a, k) -> split(s, arg(a, k, 0, "sep"), arg(a, k, 1, "maxsplit"), true);
            case "strip" -> (a, k) -> strip(s, arg(a, k, 0, "chars"), true, true);
            case "lstrip" -> (a, k) -> strip(s, arg(a, k, 0, "chars"), true, false);
            case "rstrip" -> (a, k) -> strip(s, arg(a, k, 0, "chars"), false, true);
            case "startswith" -> (a, k) -> affix(s, a.get(0), true);
            case "endswith" -> (a, k) -> affix(s, a.get(0), false);
            case "upper" -> (a, k) -> s.toUpperCase(Locale.ROOT);
            case "lower" -> (a, k) -> s.toLowerCase(Locale.ROOT);
            case "title" -> (a, k) -> title(s);
            case "capitalize" -> (a, k) -> capitalize(s);
            case "replace" ->
                (a, k) -> replace(s, (String) a.get(0), (String) a.get(1), a.size() > 2 ? Py.asLong(a.get(2)) : -1);
            case "find" -> (a, k) -> (long) codePointIndex(s, s.indexOf((String) a.get(0)));
            case "rfind" -> (a, k) -> (long) codePointIndex(s, s.lastIndexOf((String) a.get(0)));
            case "count" -> (a, k) -> count(s, (String) a.get(0));
            case "join" ->
                (a, k) -> String.join(
                        s, Py.iterate(a.get(0)).stream().map(Py::str).toList());
            case "format" -> (a, k) -> format(s, a, k);
            case "splitlines" -> (a, k) -> splitlines(s);
            case "isdigit" -> (a, k) -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> (a, k) -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isspace" -> (a, k) -> !s.isEmpty() && s.chars().allMatch(Methods::isSpace);
            case "isupper" -> (a, k) -> !s.equals(s.toLowerCase(Locale.ROOT)) && s.equals(s.toUpperCase(Locale.ROOT));
            case "islower" -> (a, k) -> !s.equals(s.toUpperCase(Locale.ROOT)) && s.equals(s.toLowerCase(Locale.ROOT));
            default -> null;
        };
    }

    private static Object arg(List<Object> args, Map<String, Object> kwargs, int position, String name) {
        return position < args.size() ? args.get(position) : kwargs.get(name);
    }

    static boolean isSpace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }

    static List<Object> split(String s, Object sep, Object maxsplit, boolean fromRight) {
        long max = maxsplit == null ? -1 : Py.asLong(maxsplit);
        List<Object> out = new ArrayList<>();
        if (sep == null) {
            // Runs of whitespace separate; leading and trailing whitespace make no empty parts.
            String rest = fromRight ? strip(s, null, false, true) : strip(s, null, true, false);
            while (!rest.isEmpty()) {
                if (max >= 0 && out.size() == max) {
                    out.add(rest);
                    break;
                }
                int at = fromRight ? lastSpace(rest) : firstSpace(rest);
                if (at < 0) {
                    out.add(rest);
                    break;
                }
                out.add(fromRight ? rest.substring(at + 1) : rest.substring(0, at));
                rest = fromRight
                        ? strip(rest.substring(0, at), null, false, true)
                        : strip(rest.substring(at), null, true, false);
            }
            if (fromRight) {
                Collections.reverse(out);
            }
            return out;
        }
        String separator = (String) sep;
        if (separator.isEmpty()) {
            throw TemplateException.of("empty separator");
        }
        String rest = s;
        while (max < 0 || out.size() < max) {
            int at = fromRight ? rest.lastIndexOf(separator) : rest.indexOf(separator);
            if (at < 0) {
                break;
            }
            out.add(fromRight ? rest.substring(at + separator.length()) : rest.substring(0, at));
            rest = fromRight ? rest.substring(0, at) : rest.substring(at + separator.length());
        }
        out.add(rest);
        if (fromRight) {
            Collections.reverse(out);
        }
        return out;
    }

    /** str.splitlines(): lines without their ends; a final line end makes no empty line. */
    static List<Object> splitlines(String s) {
        List<Object> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\n' || c == '\r') {
                out.add(s.substring(start, i));
                if (c == '\r' && i + 1 < s.length() && s.charAt(i + 1) == '\n') {
                    i++;
                }
                start = i + 1;
            }
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    private static int firstSpace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (isSpace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    private static int lastSpace(String s) {
        for (int i = s.length() - 1; i >= 0; i--) {
            if (isSpace(s.charAt(i))) {
                return i;
            }
        }
        return -1;
    }

    static String strip(String s, Object chars, boolean left, boolean right) {
        String set = chars == null ? null : (String) chars;
        int from = 0;
        int to = s.length();
        while (left && from < to && (set == null ? isSpace(s.charAt(from)) : set.indexOf(s.charAt(from)) >= 0)) {
            from++;
        }
        while (right && to > from && (set == null ? isSpace(s.charAt(to - 1)) : set.indexOf(s.charAt(to - 1)) >= 0)) {
            to--;
        }
        return s.substring(from, to);
    }

    private static boolean affix(String s, Object affix, boolean prefix) {
        if (affix instanceof Py.Tuple t) {
            return t.items().stream().anyMatch(a -> affix(s, a, prefix));
        }
        if (!(affix instanceof String a)) {
            throw TemplateException.of(
                    (prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str");
        }
        return prefix ? s.startsWith(a) : s.endsWith(a);
    }

    /** Python's str.title: each run of letters starts upper case, the rest lower. */
    static String title(String s) {
        StringBuilder out = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(inWord ? Character.toLowerCase(c) : Character.toUpperCase(c));
            inWord = Character.isLetter(c);
        }
        return out.toString();
    }

    static String capitalize(String s) {
        return s.isEmpty()
                ? s
                : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
    }

    static String replace(String s, String old, String replacement, long count) {
        if (count < 0) {
            return s.replace(old, replacement);
        }
        StringBuilder out = new StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++) {
            int at = s.indexOf(old, from);
            if (at < 0) {
                break;
            }
            out.append(s, from, at).append(replacement);
            from = at + old.length();
            if (old.isEmpty()) {
                if (from >= s.length()) {
                    break;
                }
                out.append(s.charAt(from++));
            }
        }
        return out.append(s.substring(Math.min(from, s.length()))).toString();
    }

    private static long count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.codePointCount(0, s.length()) + 1;
        }
        long n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static int codePointIndex(String s, int charIndex) {
        return charIndex < 0 ? -1 : s.codePointCount(0, charIndex);
    }

    /** str.format with {}, {0} and {name} fields (no format specs). */
    private static String format(String s, List<Object> args, Map<String, Object> kwargs) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if ((c == '{' || c == '}') && i + 1 < s.length() && s.charAt(i + 1) == c) {
                out.append(c);
                i++;
            } else if (c == '{') {
                int end = s.indexOf('}', i);
                if (end < 0) {
                    throw TemplateException.of("Single '{' encountered in format string");
                }
                String field = s.substring(i + 1, end);
                Object v = field.isEmpty()
                        ? args.get(auto++)
                        : field.chars().allMatch(Character::isDigit)
                                ? args.get(Integer.parseInt(field))
                                : kwargs.get(field);
                out.append(Py.str(v));
                i = end;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
