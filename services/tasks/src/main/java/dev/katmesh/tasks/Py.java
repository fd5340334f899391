package dev.katmesh.tasks;

import java.util.List;

/** Python literals for generated tests (the values the templates compute in Java). */
final class Py {

    private Py() {}

    static String lit(Object v) {
        if (v instanceof String s) {
            StringBuilder b = new StringBuilder("'");
            for (char c : s.toCharArray()) {
                switch (c) {
                    case '\'' -> b.append("\\'");
                    case '\\' -> b.append("\\\\");
                    case '\n' -> b.append("\\n");
                    default -> b.append(c);
                }
            }
            return b.append('\'').toString();
        }
        if (v instanceof List<?> l) {
            StringBuilder b = new StringBuilder("[");
            for (int i = 0; i < l.size(); i++) {
                b.append(i == 0 ? "" : ", ").append(lit(l.get(i)));
            }
            return b.append(']').toString();
        }
        if (v instanceof Boolean x) {
            return x ? "True" : "False";
        }
        return String.valueOf(v);
    }
}
