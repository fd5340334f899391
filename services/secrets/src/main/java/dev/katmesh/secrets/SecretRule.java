package dev.katmesh.secrets;

import java.util.function.Consumer;

/** One kind of secret and how to find it in a text. Implementations are stateless and thread-safe. */
public interface SecretRule {

    /** The rule's name: in placeholders ({@code [REDACTED:name]}), metrics and the scored record's redactions. */
    String name();

    /** Reports each secret of this kind in {@code text}; spans may overlap other rules' (the scanner decides). */
    void find(String text, Consumer<Finding> out);
}
