package dev.katmesh.policy.jinja;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Renders parsed statements against a scope chain with Jinja's scoping: a for loop's body (each iteration) and a
 * macro's body are child scopes, so a plain {@code set} inside them does not leak out; {@code if} makes no scope.
 */
final class Renderer {

    private enum Flow {
        NEXT,
        BREAK,
        CONTINUE
    }

    static final class Scope {
        private final Map<String, Object> vars = new HashMap<>();
        private final Scope parent;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object get(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                if (s.vars.containsKey(name)) {
                    return Py.normalize(s.vars.get(name));
                }
            }
            return new Py.Undefined(name);
        }

        void set(String name, Object value) {
            vars.put(name, value);
        }
    }

    private final StringBuilder out;

    Renderer(StringBuilder out) {
        this.out = out;
    }

    Flow render(List<Node> nodes, Scope scope) {
        for (Node node : nodes) {
            Flow flow = render(node, scope);
            if (flow != Flow.NEXT) {
                return flow;
            }
        }
        return Flow.NEXT;
    }

    private Flow render(Node node, Scope scope) {
        if (node instanceof Node.Text t) {
            out.append(t.text());
        } else if (node instanceof Node.Output o) {
            out.append(Py.str(eval(o.value(), scope)));
        } else if (node instanceof Node.If i) {
            for (int b = 0; b < i.tests().size(); b++) {
                if (Py.truthy(eval(i.tests().get(b), scope))) {
                    return render(i.branches().get(b), scope);
                }
            }
            return render(i.orElse(), scope);
        } else if (node instanceof Node.For f) {
            return loop(f, scope);
        } else if (node instanceof Node.Set s) {
            assign(s, eval(s.value(), scope), scope);
        } else if (node instanceof Node.SetBlock s) {
            String body = capture(s.body(), scope);
            scope.set(s.target(), s.filter() == null ? body : eval(withValue(s.filter(), body), scope));
        } else if (node instanceof Node.FilterBlock f) {
            out.append(Py.str(eval(withValue(f.filter(), capture(f.body(), scope)), scope)));
        } else if (node instanceof Node.Macro m) {
            scope.set(m.name(), macro(m, scope));
        } else if (node instanceof Node.LoopControl c) {
            return c.isBreak() ? Flow.BREAK : Flow.CONTINUE;
        }
        return Flow.NEXT;
    }

    private String capture(List<Node> body, Scope scope) {
        StringBuilder captured = new StringBuilder();
        new Renderer(captured).render(body, scope);
        return captured.toString();
    }

    /** The filter chain of a set block or filter block, applied to the captured body. */
    private static Expr withValue(Expr filter, String value) {
        if (filter instanceof Expr.Filter f) {
            return new Expr.Filter(
                    withValue(f.value(), value), f.name(), f.args(), f.kwargNames(), f.kwargValues(), f.line());
        }
        return new Expr.Literal(value);
    }

    private void assign(Node.Set s, Object value, Scope scope) {
        if (s.attribute() != null) {
            if (!(scope.get(s.targets().get(0)) instanceof Py.Namespace ns)) {
                throw TemplateException.at(s.line(), "cannot assign attribute on non-namespace object");
            }
            ns.attributes.put(s.attribute(), value);
        } else if (s.targets().size() == 1) {
            scope.set(s.targets().get(0), value);
        } else {
            unpack(s.targets(), value, scope, s.line());
        }
    }

    private static void unpack(List<String> targets, Object value, Scope scope, int line) {
        List<Object> items = Py.iterate(value);
        if (items.size() != targets.size()) {
            throw TemplateException.at(line, "cannot unpack " + items.size() + " values into " + targets.size());
        }
        for (int i = 0; i < targets.size(); i++) {
            scope.set(targets.get(i), items.get(i));
        }
    }

    private Flow loop(Node.For f, Scope scope) {
        List<Object> items = new ArrayList<>();
        for (Object item : Py.iterate(eval(f.iterable(), scope))) {
            if (f.filter() == null || Py.truthy(eval(f.filter(), bind(f, item, new Scope(scope))))) {
                items.add(item);
            }
        }
        for (int i = 0; i < items.size(); i++) {
            Scope iteration = bind(f, items.get(i), new Scope(scope));
            iteration.set("loop", loopInfo(items, i));
            if (render(f.body(), iteration) == Flow.BREAK) {
                break;
            }
        }
        return items.isEmpty() ? render(f.orElse(), scope) : Flow.NEXT;
    }

    private static Scope bind(Node.For f, Object item, Scope scope) {
        if (f.targets().size() == 1) {
            scope.set(f.targets().get(0), item);
        } else {
            unpack(f.targets(), item, scope, f.line());
        }
        return scope;
    }

    private static Map<String, Object> loopInfo(List<Object> items, int i) {
        Map<String, Object> loop = new LinkedHashMap<>();
        int n = items.size();
        loop.put("index", (long) i + 1);
        loop.put("index0", (long) i);
        loop.put("revindex", (long) (n - i));
        loop.put("revindex0", (long) (n - i - 1));
        loop.put("first", i == 0);
        loop.put("last", i == n - 1);
        loop.put("length", (long) n);
        loop.put("depth", 1L);
        loop.put("depth0", 0L);
        if (i > 0) {
            loop.put("previtem", items.get(i - 1));
        }
        if (i < n - 1) {
            loop.put("nextitem", items.get(i + 1));
        }
        loop.put("cycle", (Py.Callable) (args, kw) -> args.get(i % args.size()));
        return loop;
    }

    private Py.Callable macro(Node.Macro m, Scope definedIn) {
        return (args, kwargs) -> {
            Scope local = new Scope(definedIn);
            if (args.size() > m.params().size()) {
                throw TemplateException.of("macro '" + m.name() + "' takes not more than "
                        + m.params().size() + " argument(s)");
            }
            for (String name : kwargs.keySet()) {
                if (!m.params().contains(name)) {
                    throw TemplateException.of("macro '" + m.name() + "' takes no keyword argument '" + name + "'");
                }
            }
            for (int p = 0; p < m.params().size(); p++) {
                String name = m.params().get(p);
                Object value = p < args.size()
                        ? args.get(p)
                        : kwargs.containsKey(name)
                                ? kwargs.get(name)
                                : m.defaults().get(p) != null
                                        ? eval(m.defaults().get(p), local)
                                        : new Py.Undefined(name);
                local.set(name, value);
            }
            return capture(m.body(), local);
        };
    }

    // --- expressions ---

    Object eval(Expr e, Scope scope) {
        if (e instanceof Expr.Literal l) {
            return l.value();
        } else if (e instanceof Expr.Name n) {
            return scope.get(n.name());
        } else if (e instanceof Expr.ListOf l) {
            return new ArrayList<>(values(l.items(), scope));
        } else if (e instanceof Expr.TupleOf t) {
            return new Py.Tuple(values(t.items(), scope));
        } else if (e instanceof Expr.DictOf d) {
            Map<Object, Object> map = new LinkedHashMap<>();
            for (int i = 0; i < d.keys().size(); i++) {
                map.put(eval(d.keys().get(i), scope), eval(d.values().get(i), scope));
            }
            return map;
        } else if (e instanceof Expr.Attribute a) {
            return located(a.line(), () -> attribute(eval(a.target(), scope), a.name()));
        } else if (e instanceof Expr.Item i) {
            return located(i.line(), () -> item(eval(i.target(), scope), eval(i.key(), scope)));
        } else if (e instanceof Expr.Slice s) {
            return located(
                    s.line(),
                    () -> Py.slice(
                            eval(s.target(), scope),
                            optional(s.start(), scope),
                            optional(s.stop(), scope),
                            optional(s.step(), scope)));
        } else if (e instanceof Expr.Call c) {
            return located(c.line(), () -> call(c, scope));
        } else if (e instanceof Expr.Filter f) {
            return located(
                    f.line(),
                    () -> Filters.filter(
                            f.name(),
                            eval(f.value(), scope),
                            values(f.args(), scope),
                            kwargs(f.kwargNames(), f.kwargValues(), scope)));
        } else if (e instanceof Expr.Test t) {
            return located(
                    t.line(),
                    () -> t.negated() != Filters.test(t.name(), eval(t.value(), scope), values(t.args(), scope)));
        } else if (e instanceof Expr.Unary u) {
            return located(u.line(), () -> {
                Object v = eval(u.operand(), scope);
                if (v instanceof Py.Undefined undefined) {
                    throw undefined.error();
                }
                return u.op().equals("-") ? Operators.negate(v) : v;
            });
        } else if (e instanceof Expr.Binary b) {
            return located(b.line(), () -> Operators.binary(b.op(), eval(b.left(), scope), eval(b.right(), scope)));
        } else if (e instanceof Expr.Compare c) {
            return located(c.line(), () -> compare(c, scope));
        } else if (e instanceof Expr.And a) {
            Object left = eval(a.left(), scope);
            return Py.truthy(left) ? eval(a.right(), scope) : left;
        } else if (e instanceof Expr.Or o) {
            Object left = eval(o.left(), scope);
            return Py.truthy(left) ? left : eval(o.right(), scope);
        } else if (e instanceof Expr.Not n) {
            return !Py.truthy(eval(n.operand(), scope));
        }
        Expr.Conditional c = (Expr.Conditional) e;
        return Py.truthy(eval(c.test(), scope))
                ? eval(c.then(), scope)
                : c.orElse() == null ? new Py.Undefined("conditional") : eval(c.orElse(), scope);
    }

    /** obj[key]: an item first, then (for a string key on a non-dict) an attribute, as Jinja's getitem does. */
    private static Object item(Object target, Object key) {
        Object got = Py.item(target, key);
        return got instanceof Py.Undefined && key instanceof String s && !(target instanceof Map<?, ?>)
                ? attribute(target, s)
                : got;
    }

    private Object optional(Expr e, Scope scope) {
        return e == null ? null : eval(e, scope);
    }

    private List<Object> values(List<Expr> exprs, Scope scope) {
        return exprs.stream().map(x -> eval(x, scope)).toList();
    }

    private Map<String, Object> kwargs(List<String> names, List<Expr> exprs, Scope scope) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i), eval(exprs.get(i), scope));
        }
        return out;
    }

    private Object call(Expr.Call c, Scope scope) {
        Object callee = eval(c.callee(), scope);
        if (callee instanceof Py.Undefined u) {
            throw u.error();
        }
        if (!(callee instanceof Py.Callable f)) {
            throw TemplateException.of("'" + Py.typeName(callee) + "' object is not callable");
        }
        return Py.normalize(f.call(values(c.args(), scope), kwargs(c.kwargNames(), c.kwargValues(), scope)));
    }

    private boolean compare(Expr.Compare c, Scope scope) {
        Object left = eval(c.first(), scope);
        for (int i = 0; i < c.ops().size(); i++) {
            Object right = eval(c.rest().get(i), scope);
            boolean holds = switch (c.ops().get(i)) {
                case "==" -> Py.eq(left, right);
                case "!=" -> !Py.eq(left, right);
                case "<" -> Py.compare(left, right) < 0;
                case "<=" -> Py.compare(left, right) <= 0;
                case ">" -> Py.compare(left, right) > 0;
                case ">=" -> Py.compare(left, right) >= 0;
                case "in" -> Py.contains(right, left);
                default -> !Py.contains(right, left);
            };
            if (!holds) {
                return false;
            }
            left = right;
        }
        return true;
    }

    /** obj.name: a method or namespace attribute first, then a dict's item; missing is undefined. */
    static Object attribute(Object target, String name) {
        target = Py.normalize(target);
        if (target instanceof Py.Undefined u) {
            throw u.error();
        }
        if (target instanceof Py.Namespace ns) {
            return ns.attributes.containsKey(name) ? Py.normalize(ns.attributes.get(name)) : new Py.Undefined(name);
        }
        Py.Callable method = Methods.bind(target, name);
        if (method != null) {
            return method;
        }
        return target instanceof Map<?, ?> ? Py.item(target, name) : new Py.Undefined(name);
    }

    /** A dotted path of attributes or items ("function.name", "0"), as map(attribute=) and selectattr use. */
    static Object lookupPath(Object target, String path) {
        Object v = target;
        for (String part : path.split("\\.")) {
            if (v instanceof Py.Undefined) {
                return v;
            }
            Object got = Py.item(v, part.chars().allMatch(Character::isDigit) ? (Object) Long.parseLong(part) : part);
            v = got instanceof Py.Undefined && !(v instanceof Map<?, ?>) ? attribute(v, part) : got;
        }
        return v;
    }

    private static Object located(int line, Supplier<Object> step) {
        try {
            return step.get();
        } catch (TemplateException e) {
            if (e.raisedByTemplate() || e.getMessage().startsWith("line ")) {
                throw e;
            }
            throw TemplateException.at(line, e.getMessage());
        } catch (ClassCastException | IndexOutOfBoundsException | NullPointerException | ArithmeticException e) {
            throw TemplateException.at(line, "bad arguments: " + e.getMessage());
        }
    }
}
