package dev.katmesh.proto.fuzz;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Mutations of a valid encoded message for the parser fuzzes (JSON or protobuf): bit flips, random
 * bytes, JSON syntax characters, truncation, insertion, deletion of a run, and splices from another
 * valid message (often of the other format), one to four edits at a time.
 */
public final class ByteMutations {

    /** Characters that change JSON's structure or a value's type. */
    static final String SYNTAX = "{}[]\":,0123456789-eE.\\ntfu";

    private ByteMutations() {}

    public static byte[] mutate(byte[] seed, byte[] other, SplittableRandom r) {
        byte[] b = seed.clone();
        int edits = 1 + r.nextInt(4);
        for (int e = 0; e < edits && b.length > 0; e++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(7)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 1 -> b[at] = (byte) r.nextInt(256);
                case 2 -> b[at] = (byte) SYNTAX.charAt(r.nextInt(SYNTAX.length()));
                case 3 -> b = Arrays.copyOf(b, at); // truncate
                case 4 -> b = splice(b, at, new byte[] {(byte) r.nextInt(256)}, 0, 1);
                case 5 -> { // delete a run
                    int len = Math.min(b.length - at, 1 + r.nextInt(8));
                    byte[] c = new byte[b.length - len];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + len, c, at, b.length - at - len);
                    b = c;
                }
                default -> {
                    int from = r.nextInt(other.length);
                    b = splice(b, at, other, from, Math.min(other.length - from, 1 + r.nextInt(16)));
                }
            }
        }
        return b;
    }

    private static byte[] splice(byte[] b, int at, byte[] src, int from, int len) {
        byte[] c = new byte[b.length + len];
        System.arraycopy(b, 0, c, 0, at);
        System.arraycopy(src, from, c, at, len);
        System.arraycopy(b, at, c, at + len, b.length - at);
        return c;
    }
}
