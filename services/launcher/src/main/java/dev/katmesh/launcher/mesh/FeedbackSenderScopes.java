package dev.katmesh.launcher.mesh;

import dev.katmesh.proto.wire.FeedbackSenders;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The feedback senders an embedded mesh was given ({@code up --feedback-sender NAME=GLOBS}): the reward's setting
 * {@value #SETTING} made from them, and which need a topic and user of their own (all but "shared", which is
 * katmesh.feedback). The globs are over agent ids; the reward reads them (FeedbackScopes).
 */
final class FeedbackSenderScopes {

    static final String SETTING = "katmesh.reward.feedback.senders";
    private static final Pattern GLOBS = Pattern.compile("[A-Za-z0-9._@*:/+-]*(,[A-Za-z0-9._@*:/+-]+)*");

    private FeedbackSenderScopes() {}

    /** Checks one sender's name and globs, with a message naming the option. */
    static void check(String sender, String globs) {
        FeedbackSenders.checkName(sender);
        if (globs == null || !GLOBS.matcher(globs).matches()) {
            throw new IllegalArgumentException("--feedback-sender " + sender + "=" + globs
                    + ": the agent ids it may rate are comma-separated globs such as team-a-*,ops-bot (empty: none)");
        }
    }

    /** The reward's setting: the shared topic rates everyone unless it is named. */
    static String setting(Map<String, String> senders) {
        Map<String, String> all = new TreeMap<>(senders);
        all.putIfAbsent(FeedbackSenders.SHARED, "*");
        StringBuilder s = new StringBuilder();
        all.forEach((sender, globs) ->
                s.append(s.isEmpty() ? "" : ";").append(sender).append('=').append(globs));
        return s.toString();
    }

    /** The senders with a topic and user of their own. */
    static List<String> ownTopics(Map<String, String> senders) {
        return senders.keySet().stream()
                .filter(s -> !s.equals(FeedbackSenders.SHARED))
                .sorted()
                .toList();
    }
}
