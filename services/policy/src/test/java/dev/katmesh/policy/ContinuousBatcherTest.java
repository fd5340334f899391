package dev.katmesh.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.policy.ContinuousBatcher.Limits;
import dev.katmesh.policy.ContinuousBatcher.Refusal;
import dev.katmesh.policy.ContinuousBatcher.RefusedException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Continuous batching gives each request what it would get alone, and keeps its limits. */
class ContinuousBatcherTest {

    static final ModelConfig CONFIG = DecoderModelTest.QWEN3;
    /** The same shape without an end-of-sequence token: "endless" requests run until cancelled or cut. */
    static final ModelConfig ENDLESS = new ModelConfig(
            CONFIG.architecture(),
            CONFIG.vocabSize(),
            CONFIG.hiddenSize(),
            CONFIG.intermediateSize(),
            CONFIG.numLayers(),
            CONFIG.numHeads(),
            CONFIG.numKvHeads(),
            CONFIG.headDim(),
            CONFIG.rmsNormEps(),
            CONFIG.ropeTheta(),
            CONFIG.maxPositionEmbeddings(),
            CONFIG.tieWordEmbeddings(),
            CONFIG.attentionBias(),
            CONFIG.qkNorm(),
            List.of(),
            CONFIG.padTokenId(),
            CONFIG.initializerRange());

    /** Collects one request's tokens. */
    static final class Collector implements ContinuousBatcher.Listener {
        final List<Integer> tokens = new ArrayList<>();
        final List<Float> logprobs = new ArrayList<>();
        final List<Long> versions = new ArrayList<>();
        final CompletableFuture<Finish> finish = new CompletableFuture<>();
        final CountDownLatch firstTokens;
        volatile String message;

        Collector(int waitFor) {
            firstTokens = new CountDownLatch(waitFor);
        }

        @Override
        public synchronized boolean onToken(int token, float logprob, long version) {
            tokens.add(token);
            logprobs.add(logprob);
            versions.add(version);
            firstTokens.countDown();
            return true;
        }

        @Override
        public void onFinish(Finish f, String m) {
            message = m;
            finish.complete(f);
        }

        Finish await() throws Exception {
            return finish.get(60, TimeUnit.SECONDS);
        }

        synchronized int[] ids() {
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void requestsThatJoinAndLeaveAtAnyStepGetWhatTheyWouldGetAlone() throws Exception {
        try (DecoderModel model = DecoderModel.random(CONFIG, 7, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(4, 10_000, 16))) {
            Generator alone = new Generator(model);
            List<int[]> prompts = new ArrayList<>();
            List<SamplingParams> params = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                prompts.add(DecoderModelTest.randomIds(3 + 5 * i % 17, 100 + i, CONFIG.vocabSize()));
                // Mixed lengths so that sequences leave at different steps; greedy and seeded sampling.
                params.add(
                        i % 2 == 0
                                ? SamplingParams.greedy(4 + 3 * i)
                                : new SamplingParams(5 + 2 * i, 0.9f, 20, 0.95f, 40 + i, Set.of()));
            }
            List<Collector> got = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                Collector c = new Collector(2);
                got.add(c);
                batcher.submit(prompts.get(i), params.get(i), 0, c);
                if (i % 3 == 1) {
                    c.firstTokens.await(30, TimeUnit.SECONDS); // later ones join a batch already decoding
                }
            }
            for (int i = 0; i < prompts.size(); i++) {
                Collector c = got.get(i);
                Finish f = c.await();
                Generation expected = alone.generate(prompts.get(i), params.get(i));
                assertArrayEquals(expected.tokens(), c.ids(), "request " + i + " should get the tokens it gets alone");
                for (int t = 0; t < expected.logprobs().length; t++) {
                    assertEquals(expected.logprobs()[t], c.logprobs.get(t), 1e-4, "log-prob " + t + " of request " + i);
                }
                assertEquals(expected.finishReason(), f.name().toLowerCase(), "finish of request " + i);
            }
            assertEquals(0, batcher.stats().running(), "nothing runs once all finished");
        }
    }

    @Test
    void promptsPrefilledInChunksGetExactlyWhatOnePassGives() throws Exception {
        try (DecoderModel model = DecoderModel.random(CONFIG, 11, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(4, 10_000, 16))) {
            // 16 query positions per chunk at most: prompts of 40 to 150 tokens run in 3 to 10 chunks, side by side
            // (left-padded rows of different lengths in one prefill, whole chunks of a short row's pads).
            batcher.prefillElements(16);
            Generator alone = new Generator(model);
            List<int[]> prompts = List.of(
                    DecoderModelTest.randomIds(150, 5, CONFIG.vocabSize()),
                    DecoderModelTest.randomIds(40, 6, CONFIG.vocabSize()),
                    DecoderModelTest.randomIds(97, 7, CONFIG.vocabSize()));
            List<Collector> got = new ArrayList<>();
            for (int[] p : prompts) {
                Collector c = new Collector(1);
                got.add(c);
                batcher.submit(p, SamplingParams.greedy(6), 0, c);
            }
            for (int i = 0; i < prompts.size(); i++) {
                got.get(i).await();
                Generation expected = alone.generate(prompts.get(i), SamplingParams.greedy(6));
                assertArrayEquals(expected.tokens(), got.get(i).ids(), "prompt " + i + ", chunked, against one pass");
                for (int t = 0; t < expected.logprobs().length; t++) {
                    assertEquals(
                            expected.logprobs()[t], got.get(i).logprobs.get(t), 1e-4, "log-prob " + t + " of " + i);
                }
            }
        }
    }

    @Test
    void aFullQueueRefusesAtOnceAndACancelledRequestFreesItsSlot() throws Exception {
        try (DecoderModel model = DecoderModel.random(ENDLESS, 8, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(1, 10_000, 1))) {
            int[] prompt = DecoderModelTest.randomIds(5, 1, CONFIG.vocabSize());
            SamplingParams endless = new SamplingParams(400, 1f, 0, 1f, 3, Set.of());
            Collector running = new Collector(3); // past its first step: the slot counts as taken
            ContinuousBatcher.Handle a = batcher.submit(prompt, endless, 0, running);
            running.firstTokens.await(30, TimeUnit.SECONDS);
            Collector queued = new Collector(1);
            batcher.submit(prompt, SamplingParams.greedy(3), 0, queued);
            RefusedException refused = assertThrows(
                    RefusedException.class,
                    () -> batcher.submit(prompt, SamplingParams.greedy(3), 0, new Collector(1)));
            assertEquals(Refusal.QUEUE_FULL, refused.reason(), refused.getMessage());
            a.cancel();
            assertEquals(Finish.CANCELLED, running.await());
            assertEquals(Finish.LENGTH, queued.await(), "the queued request takes the freed slot");
            assertEquals(3, queued.ids().length);
        }
    }

    @Test
    void deadlinesEndRequestsWhetherQueuedOrRunning() throws Exception {
        try (DecoderModel model = DecoderModel.random(ENDLESS, 9, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(1, 10_000, 4))) {
            int[] prompt = DecoderModelTest.randomIds(5, 2, CONFIG.vocabSize());
            Collector running = new Collector(1);
            batcher.submit(
                    prompt,
                    new SamplingParams(400, 1f, 0, 1f, 3, Set.of()),
                    System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300),
                    running);
            Collector queued = new Collector(1);
            batcher.submit(
                    prompt, SamplingParams.greedy(3), System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100), queued);
            assertEquals(Finish.DEADLINE, queued.await(), queued.message);
            assertEquals(Finish.DEADLINE, running.await(), running.message);
            assertTrue(running.ids().length < 400, "the running request stopped early");
        }
    }

    @Test
    void requestsThatCanNeverFitAreRefused() throws Exception {
        try (DecoderModel model = DecoderModel.random(CONFIG, 10, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(2, 64, 4))) {
            assertEquals(
                    Refusal.TOO_LONG,
                    assertThrows(
                                    RefusedException.class,
                                    () -> batcher.submit(new int[60], SamplingParams.greedy(10), 0, new Collector(1)))
                            .reason());
            assertEquals(
                    Refusal.INVALID,
                    assertThrows(
                                    RefusedException.class,
                                    () -> batcher.submit(
                                            new int[] {5, CONFIG.vocabSize()},
                                            SamplingParams.greedy(1),
                                            0,
                                            new Collector(1)))
                            .reason());
            assertEquals(
                    Refusal.INVALID,
                    assertThrows(
                                    RefusedException.class,
                                    () -> batcher.submit(new int[0], SamplingParams.greedy(1), 0, new Collector(1)))
                            .reason());
        }
    }

    @Test
    void afterSwapsUnderLoadANewRequestGetsWhatTheLastWeightsGive() throws Exception {
        try (DecoderModel model = DecoderModel.random(ENDLESS, 21, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 0, new Limits(4, 100_000, 8))) {
            List<Collector> load = new ArrayList<>();
            Map<String, SafeTensors.Tensor> last = null;
            for (int v = 1; v <= 6; v++) {
                for (int i = 0; i < 2; i++) {
                    Collector c = new Collector(1);
                    load.add(c);
                    batcher.submit(
                            DecoderModelTest.randomIds(4 + 3 * i + v, 100 + v * 10 + i, ENDLESS.vocabSize()),
                            new SamplingParams(40 + 7 * i, 1f, 0, 1f, v * 31L + i, Set.of()),
                            0,
                            c);
                }
                Thread.sleep(20);
                try (DecoderModel next = DecoderModel.random(ENDLESS, 100 + v, Device.cpu())) {
                    last = next.toTensors();
                }
                batcher.swap(v, last).get(30, TimeUnit.SECONDS);
            }
            for (Collector c : load) {
                c.await();
            }
            int[] prompt = DecoderModelTest.randomIds(9, 77, ENDLESS.vocabSize());
            Collector fresh = new Collector(1);
            batcher.submit(prompt, SamplingParams.greedy(12), 0, fresh);
            fresh.await();
            try (DecoderModel reference = DecoderModel.fromTensors(ENDLESS, last, Device.cpu(), Path.of("v6"))) {
                assertArrayEquals(
                        new Generator(reference)
                                .generate(prompt, SamplingParams.greedy(12))
                                .tokens(),
                        fresh.ids(),
                        "after swaps under load the served weights are exactly the last version's");
            }
        }
    }

    @Test
    void aBatchThatNeverEmptiesHoldsOnlyItsCache() throws Exception {
        // Grouped-query attention expands the cached keys each step; none of it may stay in the cache's manager.
        try (DecoderModel model = DecoderModel.random(ENDLESS, 22, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 0, new Limits(4, 100_000, 8))) {
            assertTrue(ENDLESS.numHeads() != ENDLESS.numKvHeads(), "the test model uses grouped-query attention");
            List<Collector> running = new ArrayList<>();
            int most = 0;
            for (int wave = 0; wave < 12; wave++) { // requests keep joining before the others leave
                Collector c = new Collector(1);
                running.add(c);
                batcher.submit(
                        DecoderModelTest.randomIds(5 + wave % 3, 300 + wave, ENDLESS.vocabSize()),
                        new SamplingParams(60, 1f, 0, 1f, wave, Set.of()),
                        0,
                        c);
                Thread.sleep(30);
                most = Math.max(most, batcher.cacheArrays());
            }
            for (Collector c : running) {
                c.await();
                most = Math.max(most, batcher.cacheArrays());
            }
            assertTrue(
                    most <= 2 * ENDLESS.numLayers(),
                    "the batch cache held " + most + " arrays; its keys and values are " + 2 * ENDLESS.numLayers());
        }
    }

    @Test
    void aSwapLandsBetweenStepsAndTokensRecordTheVersionThatMadeThem() throws Exception {
        try (DecoderModel model = DecoderModel.random(ENDLESS, 11, Device.cpu());
                DecoderModel next = DecoderModel.random(ENDLESS, 12, Device.cpu());
                ContinuousBatcher batcher = new ContinuousBatcher(model, 1, new Limits(2, 10_000, 4))) {
            int[] prompt = DecoderModelTest.randomIds(6, 3, CONFIG.vocabSize());
            Collector c = new Collector(5);
            batcher.submit(prompt, SamplingParams.greedy(300), 0, c);
            c.firstTokens.await(30, TimeUnit.SECONDS);
            CompletableFuture<Long> bad = batcher.swap(3, Map.of());
            assertThrows(Exception.class, () -> bad.get(30, TimeUnit.SECONDS), "weights that do not fit are refused");
            assertEquals(1, batcher.version(), "the old version keeps serving after a failed swap");
            long nanos = batcher.swap(2, next.toTensors()).get(30, TimeUnit.SECONDS);
            assertTrue(nanos > 0);
            assertEquals(Finish.LENGTH, c.await());
            List<Long> versions = c.versions;
            int change = versions.indexOf(2L);
            assertTrue(change > 0, "tokens before the swap come from v1 and after it from v2: " + versions);
            assertTrue(
                    versions.subList(0, change).stream().allMatch(v -> v == 1L)
                            && versions.subList(change, versions.size()).stream()
                                    .allMatch(v -> v == 2L),
                    "versions change once: " + versions);
        }
    }
}
