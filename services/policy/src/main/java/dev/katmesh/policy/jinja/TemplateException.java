package dev.katmesh.policy.jinja;

/**
 * A template that cannot be parsed or rendered: a syntax error, an operation Python would refuse (adding a string
 * to a list, an attribute of an undefined value) or the template's own {@code raise_exception(message)}, whose
 * message is kept as the template wrote it.
 */
public final class TemplateException extends RuntimeException {

    private final boolean raisedByTemplate;

    TemplateException(String message, boolean raisedByTemplate) {
        super(message);
        this.raisedByTemplate = raisedByTemplate;
    }

    static TemplateException at(int line, String message) {
        return new TemplateException("line " + line + ": " + message, false);
    }

    static TemplateException of(String message) {
        return new TemplateException(message, false);
    }

    /** True when the template called raise_exception: the message is then the template's words alone. */
    public boolean raisedByTemplate() {
        return raisedByTemplate;
    }
}
