package dev.katmesh.secrets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SecretScannerTest {

    private final SecretScanner scanner = SecretScanner.standard();

    @Test
    void eachFormatIsNamedByItsRuleAndRedactedWhereverAnAgentMeetsIt() {
        List<String> failures = new ArrayList<>();
        for (long seed = 1; seed <= 20; seed++) {
            for (SecretCorpus.Case c : new SecretCorpus(seed).formats()) {
                for (String place : SecretCorpus.PLACES) {
                    String text = place.formatted(c.secret());
                    check(c, text, place == SecretCorpus.PLACES.get(0), failures);
                }
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " misses, e.g.:\n" + String.join("\n", head(failures)));
    }

    @Test
    void secretsThatOnlyTheirContextRevealAreFound() {
        List<String> failures = new ArrayList<>();
        for (long seed = 1; seed <= 20; seed++) {
            for (SecretCorpus.Case c : new SecretCorpus(seed).inContext()) {
                check(c, c.text(), true, failures);
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " misses, e.g.:\n" + String.join("\n", head(failures)));
    }

    @Test
    void lookAlikesStay() {
        List<String> failures = new ArrayList<>();
        for (long seed = 1; seed <= 20; seed++) {
            for (String text : new SecretCorpus(seed).lookAlikes()) {
                List<Finding> found = scanner.find(text);
                if (!found.isEmpty()) {
                    Finding f = found.get(0);
                    failures.add(f.rule() + " took '" + text.substring(f.start(), f.end()) + "' in: " + text);
                }
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " false alarms, e.g.:\n" + String.join("\n", head(failures)));
    }

    @Test
    void aPlaceholderIsNotASecretSoRedactingTwiceChangesNothing() {
        String secret = new SecretCorpus(7).formats().get(1).secret();
        String once =
                scanner.redact("GITHUB_TOKEN=" + secret + " and " + secret).text();
        assertEquals("GITHUB_TOKEN=[REDACTED:github-token] and [REDACTED:github-token]", once);
        assertEquals(once, scanner.redact(once).text(), "a redacted text is redacted already");
    }

    @Test
    void overlappingFindingsRedactEachCharacterOnce() {
        // the assignment rule and the token's own rule find the same value: the earlier (specific) rule names it
        String secret = "ghp_" + new SecretCorpus(3).chars("abcdefghijklmnopqrstuvwxyz0123456789", 36);
        SecretScanner.Redacted r = scanner.redact("export GITHUB_TOKEN=\"" + secret + "\"");
        assertEquals(
                List.of("github-token"),
                r.findings().stream().map(Finding::rule).toList());
        assertEquals("export GITHUB_TOKEN=\"[REDACTED:github-token]\"", r.text());
    }

    @Test
    void operatorsAddRulesAndTurnBuiltInOnesOff() {
        List<SecretRule> extra = SecretRules.parse(
                List.of("# internal tokens", "", "acme-token=\\bacme_[a-z0-9]{16}\\b", "acme-pin=pin: (\\d{6})"));
        SecretScanner custom = new SecretScanner(SecretRules.select(Set.of("high-entropy"), extra));
        assertEquals(
                "use [REDACTED:acme-token] with pin: [REDACTED:acme-pin]",
                custom.redact("use acme_0123456789abcdef with pin: 123456").text(),
                "the first capturing group is the secret, else the whole match");
        String random = "Zx9" + new SecretCorpus(5).chars("ABCDEFabcdef0123456789", 29);
        assertTrue(scanner.find(random).size() == 1, "high-entropy finds it by default");
        assertTrue(custom.find(random).isEmpty(), "high-entropy is off");
        IllegalArgumentException unknown =
                assertThrows(IllegalArgumentException.class, () -> SecretRules.select(Set.of("nope"), List.of()));
        assertTrue(unknown.getMessage().contains("no built-in secret rule named nope"), unknown.getMessage());
        IllegalArgumentException bad =
                assertThrows(IllegalArgumentException.class, () -> SecretRules.parse(List.of("x=(")));
        assertTrue(bad.getMessage().startsWith("secret rule x:"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SecretRules.parse(List.of("no regex here")));
        assertThrows(IllegalArgumentException.class, () -> SecretRules.parse(List.of("Bad Name=x")));
    }

    private void check(SecretCorpus.Case c, String text, boolean ruleMatters, List<String> failures) {
        int at = text.indexOf(c.secret());
        List<Finding> found = scanner.find(text);
        Finding covering = found.stream()
                .filter(f -> f.start() <= at && f.end() >= at + c.secret().length())
                .findFirst()
                .orElse(null);
        if (covering == null) {
            failures.add(c.rule() + " missed in: " + text + " (found " + found + ")");
        } else if (ruleMatters && !covering.rule().equals(c.rule())) {
            failures.add(c.rule() + " named " + covering.rule() + " in: " + text);
        } else if (covering.end() - covering.start() > c.secret().length() + 1) {
            failures.add(c.rule() + " took more than the secret: '" + text.substring(covering.start(), covering.end())
                    + "' in: " + text);
        }
        String redacted = scanner.redact(text).text();
        assertFalse(redacted.contains(c.secret()), "the secret is gone: " + redacted);
    }

    private static List<String> head(List<String> all) {
        return all.subList(0, Math.min(8, all.size()));
    }
}
