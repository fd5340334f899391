package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IncrementalDecoderTest {

    @Test
    void theTextAfterEveryTokenIsTheWholeDecoding() {
        try (PolicyTokenizer tok = PolicyTokenizer.load(Fixture.DIR)) {
            // Multi-byte characters split across tokens (the fixture's 512 tokens spell most of them byte by byte),
            // control tokens, and random ids whose bytes are not UTF-8 at all.
            int[] text = tok.encode("def add(a, b):\n    return a + b  # 加法 ✓ 🙂<|im_end|> naïve café\n");
            int[] random = new Random(7).ints(300, 0, 512).toArray();
            for (int[] ids : new int[][] {text, random}) {
                IncrementalDecoder d = new IncrementalDecoder(tok);
                for (int i = 0; i < ids.length; i++) {
                    String whole = tok.decodeText(Arrays.copyOf(ids, i + 1));
                    assertEquals(whole, d.add(ids[i]), "after token " + i + " of " + Arrays.toString(ids));
                    assertTrue(d.settledLength() <= whole.length());
                }
                assertTrue(d.settledLength() > 0, "text settles as it goes");
            }
        }
    }
}
