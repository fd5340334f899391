package dev.katmesh.proto.wire;

import java.util.regex.Pattern;

/**
 * Who sent a verdict, known from the topic it came on — never from its content, which the sender writes. Each sender
 * has its own intake topic, written only by its own Kafka user:
 *
 * <ul>
 *   <li>{@value #SHARED}: {@link Topics#FEEDBACK}, user {@code katmesh-feedback};
 *   <li>{@code <name>}: {@code katmesh.feedback.from.<name>}, user {@code katmesh-feedback-<name>}.
 * </ul>
 *
 * Which sessions a sender may rate is the reward's setting ({@code katmesh.reward.feedback.senders}). A verdict's
 * position names its sender's topic: {@code <partition>@<offset>} on the shared topic, {@code
 * <name>:<partition>@<offset>} on a sender's own.
 */
public final class FeedbackSenders {

    /** The sender whose topic is {@link Topics#FEEDBACK}. */
    public static final String SHARED = "shared";
    /** The prefix of the senders' own topics (the reward reads them all: a prefixed ACL). */
    public static final String TOPIC_PREFIX = Topics.FEEDBACK + ".from.";
    /** A sender's name: also a topic and a Kafka user name's suffix. */
    public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    /** Every intake topic and the join topic, for the join's one subscription; the join topic is told apart by name. */
    public static final Pattern SUBSCRIPTION =
            Pattern.compile(Pattern.quote(Topics.FEEDBACK) + "(\\.join|\\.from\\.[a-z0-9][a-z0-9-]{0,62})?");

    private FeedbackSenders() {}

    /** Checks a sender's name (a clear message for a setting or an option). */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a feedback sender's name is lower-case letters, digits and '-' (at most"
                    + " 63, starting with a letter or digit): '" + name + "'");
        }
        return name;
    }

    /** A sender's intake topic. */
    public static String topic(String sender) {
        return SHARED.equals(sender) ? Topics.FEEDBACK : TOPIC_PREFIX + checkName(sender);
    }

    /** A sender's Kafka user. */
    public static String user(String sender) {
        return SHARED.equals(sender) ? "katmesh-feedback" : "katmesh-feedback-" + checkName(sender);
    }

    /** The sender of an intake topic; null for any other topic (the join topic included). */
    public static String senderOf(String topic) {
        if (Topics.FEEDBACK.equals(topic)) {
            return SHARED;
        }
        if (topic != null && topic.startsWith(TOPIC_PREFIX)) {
            String name = topic.substring(TOPIC_PREFIX.length());
            return NAME.matcher(name).matches() && !name.equals(SHARED) ? name : null;
        }
        return null;
    }

    /** Where a verdict is: its sender's topic, partition and offset. */
    public record Position(String sender, int partition, long offset) {

        public static Position of(String topic, int partition, long offset) {
            String sender = senderOf(topic);
            if (sender == null) {
                throw new IllegalArgumentException(topic + " is not a feedback intake topic");
            }
            return new Position(sender, partition, offset);
        }

        /** Reads {@link #toString()}'s form. */
        public static Position parse(String text) {
            int colon = text.indexOf(':');
            int at = text.indexOf('@');
            if (at < 0 || at < colon) {
                throw new IllegalArgumentException("not a feedback position: " + text);
            }
            String sender = colon < 0 ? SHARED : text.substring(0, colon);
            try {
                return new Position(
                        sender,
                        Integer.parseInt(text.substring(colon + 1, at)),
                        Long.parseLong(text.substring(at + 1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a feedback position: " + text, e);
            }
        }

        public String topic() {
            return FeedbackSenders.topic(sender);
        }

        @Override
        public String toString() {
            return (SHARED.equals(sender) ? "" : sender + ":") + partition + "@" + offset;
        }
    }
}
