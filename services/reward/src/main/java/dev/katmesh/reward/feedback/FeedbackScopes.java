package dev.katmesh.reward.feedback;

import dev.katmesh.proto.wire.FeedbackSenders;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Whom each feedback sender may rate: per sender ({@link FeedbackSenders}), globs over the agent ids of the sessions
 * it may send verdicts on. Read from {@code katmesh.reward.feedback.senders}, e.g. {@code
 * shared=*;ci-team-a=team-a-*,team-a-bot;ratings=*}: {@code *} matches any run of characters. A sender not named
 * there may rate nothing; its verdicts are dead-lettered at once.
 *
 * <p>The agent id is the trajectory's: its API key's id for a captured session, what the agent wrote for a published
 * one (all agents share the user katmesh-agent, so a scope by agent is as strong as the agents' own keys).
 */
record FeedbackScopes(Map<String, List<Pattern>> scopes) {

    /** Every sender rates every session: the shared topic's default. */
    static final String DEFAULT = FeedbackSenders.SHARED + "=*";

    static FeedbackScopes parse(String setting) {
        Map<String, List<Pattern>> scopes = new LinkedHashMap<>();
        for (String part : setting.split(";")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("katmesh.reward.feedback.senders: '" + part.trim()
                        + "' is not sender=glob[,glob...] (e.g. ci=team-a-*)");
            }
            String sender = FeedbackSenders.checkName(part.substring(0, eq).trim());
            List<Pattern> globs = new ArrayList<>();
            for (String glob : part.substring(eq + 1).split(",")) {
                if (!glob.isBlank()) {
                    globs.add(glob(glob.trim()));
                }
            }
            if (scopes.put(sender, List.copyOf(globs)) != null) {
                throw new IllegalArgumentException("katmesh.reward.feedback.senders names " + sender + " twice");
            }
        }
        return new FeedbackScopes(Map.copyOf(scopes));
    }

    private static Pattern glob(String glob) {
        StringBuilder re = new StringBuilder();
        for (String literal : glob.split("\\*", -1)) {
            if (!re.isEmpty()) {
                re.append(".*");
            }
            re.append(Pattern.quote(literal));
        }
        return Pattern.compile(re.toString());
    }

    /** Whether the sender has a scope at all (else its verdicts are refused as they come). */
    boolean knows(String sender) {
        return scopes.containsKey(sender);
    }

    boolean mayRate(String sender, String agentId) {
        return scopes.getOrDefault(sender, List.of()).stream()
                .anyMatch(p -> p.matcher(agentId).matches());
    }
}
