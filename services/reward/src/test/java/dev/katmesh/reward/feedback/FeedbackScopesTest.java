package dev.katmesh.reward.feedback;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FeedbackScopesTest {

    @Test
    void globsMatchWholeAgentIds() {
        FeedbackScopes s = FeedbackScopes.parse(" ci = team-a-* , ops ; ratings=*;shared=");
        assertTrue(s.mayRate("ci", "team-a-bot"));
        assertTrue(s.mayRate("ci", "ops"));
        assertFalse(s.mayRate("ci", "ops-2"), "a glob without * is one agent id");
        assertFalse(s.mayRate("ci", "xteam-a-bot"), "a glob is anchored at both ends");
        assertTrue(s.mayRate("ratings", "anyone"));
        assertTrue(s.knows("shared"), "named with no globs: known, rates no one");
        assertFalse(s.mayRate("shared", "team-a-bot"));
        assertFalse(s.knows("review"), "not named: refused at intake");
        assertFalse(s.mayRate("review", "team-a-bot"));
    }

    @Test
    void regexCharactersInAGlobAreLiteral() {
        FeedbackScopes s = FeedbackScopes.parse("ci=a.b*");
        assertTrue(s.mayRate("ci", "a.b-1"));
        assertFalse(s.mayRate("ci", "axb-1"));
    }

    @Test
    void theDefaultLetsTheSharedTopicRateEveryone() {
        FeedbackScopes s = FeedbackScopes.parse(FeedbackScopes.DEFAULT);
        assertTrue(s.mayRate("shared", "any-agent"));
        assertFalse(s.knows("ci"));
    }

    @Test
    void badSettingsAreRefusedWithTheirReason() {
        assertThrows(IllegalArgumentException.class, () -> FeedbackScopes.parse("ci"), "no '='");
        assertThrows(IllegalArgumentException.class, () -> FeedbackScopes.parse("CI=x"), "not a sender name");
        assertThrows(IllegalArgumentException.class, () -> FeedbackScopes.parse("ci=a;ci=b"), "named twice");
    }
}
