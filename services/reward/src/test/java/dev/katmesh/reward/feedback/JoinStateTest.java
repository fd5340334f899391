package dev.katmesh.reward.feedback;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.katmesh.proto.v1.Feedback;
import dev.katmesh.proto.v1.RewardComponent;
import dev.katmesh.proto.v1.ScoredTrajectory;
import dev.katmesh.proto.v1.Trajectory;
import dev.katmesh.proto.wire.RejectReason;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The join's rules with a clock in hand: what is released, revised, forgotten and dead-lettered, and when. */
class JoinStateTest {

    static final long W = 60_000; // the window

    static ScoredTrajectory scored(String id, String session) {
        return ScoredTrajectory.newBuilder()
                .setTrajectory(Trajectory.newBuilder()
                        .setTrajectoryId(id)
                        .setSessionId(session)
                        .setGroupId(session))
                .addComponents(RewardComponent.newBuilder()
                        .setName("format_penalty")
                        .setValue(0.25)
                        .setWeight(-0.5))
                .setReward(-0.125)
                .setTaskless(true)
                .build();
    }

    static JoinState.Verdict verdict(String position, double value, boolean fin, long receivedAt) {
        return new JoinState.Verdict(
                Feedback.newBuilder()
                        .setKind("pr")
                        .setValue(value)
                        .setFinal(fin)
                        .setPosition(position)
                        .setReceivedAtMs(receivedAt)
                        .build(),
                new byte[] {'{', '}'});
    }

    static JoinState.Held held(String id, long since) {
        return new JoinState.Held(id, scored(id, "s"), since, "5", "katmesh.trajectories.raw/0/7");
    }

    @Test
    void aHeldTrajectoryIsReleasedAtTheWindowsEndWithTheVerdictsSoFar() {
        JoinState s = new JoinState();
        s.held("s", 3, held("t1", 1000));
        s.feedback("s", 3, verdict("0@1", 1, false, 2000));
        assertEquals(List.of(), s.decide(1000 + W - 1, W, 1.0, Set.of()), "not before the window ends");
        List<JoinState.Action> due = s.decide(1000 + W, W, 1.0, Set.of());
        assertEquals(1, due.size(), due.toString());
        JoinState.Release r = assertInstanceOf(JoinState.Release.class, due.get(0));
        assertEquals(false, r.byFinal());
        assertEquals(3, r.partition());
        assertEquals(0, r.score().getRevision());
        assertEquals(-0.125 + 1.0, r.score().getReward(), 1e-12, "the verdict (not final) counts at the window's end");
    }

    @Test
    void aFinalVerdictReleasesAtOnceAlsoWhenItCameBeforeTheSession() {
        JoinState s = new JoinState();
        s.feedback("s", 0, verdict("0@1", -1, true, 1000)); // the PR was reverted before the session's trajectory came
        assertEquals(List.of(), s.decide(2000, W, 1.0, Set.of()), "kept: its session may not have ended yet");
        s.held("s", 0, held("t1", 3000));
        List<JoinState.Action> due = s.decide(3001, W, 0.5, Set.of());
        JoinState.Release r = assertInstanceOf(JoinState.Release.class, due.get(0));
        assertTrue(r.byFinal());
        assertEquals(-0.125 - 0.5, r.score().getReward(), 1e-12);
    }

    @Test
    void aBusyKeyIsNotDecidedAgainUntilItsEntriesAreReadBack() {
        JoinState s = new JoinState();
        s.held("s", 0, held("t1", 0));
        assertEquals(List.of(), s.decide(W, W, 1.0, Set.of("s")));
        assertEquals(1, s.decide(W, W, 1.0, Set.of()).size());
    }

    @Test
    void lateVerdictsReviseAReleasedTrajectoryOnceAtTheEndOfItsSecondWindow() {
        JoinState s = new JoinState();
        ScoredTrajectory first = FeedbackScore.rescore(scored("t1", "s"), List.of(), 1.0, 0);
        s.released("s", 0, new JoinState.Released("t1", first, 10_000, List.of(), "5", null));
        assertEquals(List.of(), s.decide(10_000 + W - 1, W, 1.0, Set.of()));
        s.feedback("s", 0, verdict("0@4", 1, false, 20_000));
        s.feedback("s", 0, verdict("0@5", 0.5, false, 21_000)); // the same kind: the later one counts
        assertEquals(List.of(), s.decide(30_000, W, 1.0, Set.of()), "late verdicts wait for the window's end");
        List<JoinState.Action> due = s.decide(10_000 + W, W, 1.0, Set.of());
        assertEquals(3, due.size(), "the revision, and the key's two verdicts forgotten with it: " + due);
        JoinState.Revise r = assertInstanceOf(JoinState.Revise.class, due.get(0));
        assertEquals(1, r.score().getRevision());
        assertEquals(-0.125 + 0.5, r.score().getReward(), 1e-12);
        assertEquals(2, r.score().getFeedbackCount());
        assertEquals("f/0@4", ((JoinState.Forget) due.get(1)).entry());
    }

    @Test
    void aLateFinalVerdictRevisesAtOnce() {
        JoinState s = new JoinState();
        s.released("s", 0, new JoinState.Released("t1", scored("t1", "s"), 0, List.of("0@1"), "5", null));
        s.feedback("s", 0, verdict("0@1", 1, false, 0)); // applied at the release
        assertEquals(List.of(), s.decide(1000, W, 1.0, Set.of()), "nothing new since the release");
        s.feedback("s", 0, verdict("0@2", -1, true, 1000));
        assertInstanceOf(
                JoinState.Revise.class, s.decide(1001, W, 1.0, Set.of()).get(0));
    }

    @Test
    void aReleasedTrajectoryWithoutLateVerdictsIsForgottenWithItsVerdicts() {
        JoinState s = new JoinState();
        s.released("s", 2, new JoinState.Released("t1", scored("t1", "s"), 0, List.of("0@1"), "5", null));
        s.feedback("s", 2, verdict("0@1", 1, true, 0));
        List<JoinState.Action> due = s.decide(W, W, 1.0, Set.of());
        assertEquals(List.of(new JoinState.Forget("s", 2, "t/t1"), new JoinState.Forget("s", 2, "f/0@1")), due);
        s.ended("s", "t/t1");
        s.ended("s", "f/0@1");
        assertEquals(List.of(), s.decide(10 * W, W, 1.0, Set.of()), "nothing left");
    }

    @Test
    void aVerdictForNoSessionIsDeadLetteredAtTheEndOfItsWindow() {
        JoinState s = new JoinState();
        s.feedback("nobody", 1, verdict("1@9", 1, true, 5000));
        assertEquals(1, s.unmatchedCount());
        assertEquals(List.of(), s.decide(5000 + W - 1, W, 1.0, Set.of()));
        JoinState.Refuse u = assertInstanceOf(
                JoinState.Refuse.class, s.decide(5000 + W, W, 1.0, Set.of()).get(0));
        assertEquals("1@9", u.verdict().feedback().getPosition());
        assertEquals(RejectReason.UNMATCHED_FEEDBACK, u.reason());
    }

    static JoinState.Held heldBy(String id, String agent, long since) {
        ScoredTrajectory sc = scored(id, "s");
        sc = sc.toBuilder()
                .setTrajectory(sc.getTrajectory().toBuilder().setAgentId(agent))
                .build();
        return new JoinState.Held(id, sc, since, "5", null);
    }

    /** ci may rate team-a's agents only; ratings anyone's; the shared topic no one's. */
    static final FeedbackScopes SCOPES = FeedbackScopes.parse("ci=team-a-*;ratings=*");

    @Test
    void aTrajectoryTakesOnlyTheVerdictsOfSendersThatMayRateItsAgent() {
        JoinState s = new JoinState(SCOPES);
        s.held("s", 0, heldBy("ta", "team-a-bot", 0));
        s.held("s", 0, heldBy("tb", "team-b-bot", 0));
        s.feedback("s", 0, verdict("ci:0@1", 1, true, 10)); // final, but only for team a
        List<JoinState.Action> due = s.decide(20, W, 1.0, Set.of());
        assertEquals(1, due.size(), "team b's trajectory is not released by ci's final verdict: " + due);
        JoinState.Release r = assertInstanceOf(JoinState.Release.class, due.get(0));
        assertEquals("ta", r.held().id());
        assertEquals(1.0 - 0.125, r.score().getReward(), 1e-12);

        due = s.decide(W, W, 1.0, Set.of());
        JoinState.Release b = due.stream()
                .filter(JoinState.Release.class::isInstance)
                .map(JoinState.Release.class::cast)
                .filter(x -> x.held().id().equals("tb"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("tb released at the window's end"));
        assertEquals(0, b.score().getFeedbackCount(), "ci's verdict is not applied to team b's session");
        assertEquals(-0.125, b.score().getReward(), 1e-12);
    }

    @Test
    void aVerdictNoTrajectoryOfItsSessionMayTakeIsDeadLetteredOutOfScope() {
        JoinState s = new JoinState(SCOPES);
        s.held("s", 2, heldBy("tb", "team-b-bot", 0));
        s.feedback("s", 2, verdict("ci:4@7", 1, true, 10));
        s.feedback("s", 2, verdict("0@3", 1, true, 10)); // the shared topic has no scope here
        assertEquals(List.of(), s.decide(20, W, 1.0, Set.of()), "no trajectory takes them: nothing is released");
        List<JoinState.Action> due = s.decide(W + 10, W, 1.0, Set.of());
        List<String> refused = due.stream()
                .filter(JoinState.Refuse.class::isInstance)
                .map(JoinState.Refuse.class::cast)
                .peek(r -> assertEquals(RejectReason.FEEDBACK_OUT_OF_SCOPE, r.reason()))
                .map(r -> r.verdict().sender())
                .sorted()
                .toList();
        assertEquals(List.of("ci", "shared"), refused, due.toString());
        JoinState.Release r = assertInstanceOf(JoinState.Release.class, due.get(0));
        assertEquals(0, r.score().getFeedbackCount());
        JoinState.Refuse ci = (JoinState.Refuse) due.stream()
                .filter(a ->
                        a instanceof JoinState.Refuse x && x.verdict().sender().equals("ci"))
                .findFirst()
                .orElseThrow();
        assertTrue(ci.why().contains("team-b-bot"), ci.why());
    }

    @Test
    void anOutOfScopeVerdictIsRefusedWhenItsSessionsLastTrajectoryEnds() {
        JoinState s = new JoinState(SCOPES);
        s.released(
                "s",
                0,
                new JoinState.Released("tb", heldBy("tb", "team-b-bot", 0).scored(), 0, List.of(), "5", null));
        s.feedback("s", 0, verdict("ratings:0@1", 1, false, 5));
        s.feedback("s", 0, verdict("ci:0@2", 1, false, W - 10)); // its own window is not over
        List<JoinState.Action> due = s.decide(W, W, 1.0, Set.of());
        assertEquals(3, due.size(), "the revision, the applied verdict's end, the refusal: " + due);
        JoinState.Revise rev = assertInstanceOf(JoinState.Revise.class, due.get(0));
        assertEquals(
                List.of("ratings:0@1"),
                rev.score().getFeedbackList().stream()
                        .map(Feedback::getPosition)
                        .toList(),
                "only the verdict of a sender that may rate team b");
        assertInstanceOf(JoinState.Forget.class, due.get(1));
        JoinState.Refuse refused = assertInstanceOf(JoinState.Refuse.class, due.get(2));
        assertEquals("ci", refused.verdict().sender(), "the session's last trajectory ends: ci's verdict took none");
    }

    @Test
    void aRawRecordHeldAgainAfterItsReleaseStaysReleased() {
        JoinState s = new JoinState();
        s.released("s", 0, new JoinState.Released("t1", scored("t1", "s"), 0, List.of(), "5", null));
        s.held("s", 0, held("t1", 100)); // the raw record delivered again, scored and held again
        assertEquals(0, s.heldCount());
        assertEquals(1, s.releasedCount());
    }

    @Test
    void partitionsMovedAwayAreForgotten() {
        JoinState s = new JoinState();
        s.held("a", 0, held("t1", 0));
        s.held("b", 1, held("t2", 0));
        s.drop(List.of(0));
        assertEquals(1, s.heldCount());
        assertEquals("b", s.decide(W, W, 1, Set.of()).get(0).joinKey());
    }
}
