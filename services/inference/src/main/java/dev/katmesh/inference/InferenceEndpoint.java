package dev.katmesh.inference;

import dev.katmesh.policy.ContinuousBatcher.Finish;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.SamplingParams;
import dev.katmesh.proto.v1.GenerateRequest;
import dev.katmesh.proto.v1.GenerateResponse;
import dev.katmesh.proto.v1.Inference;
import dev.katmesh.proto.v1.ModelInfoRequest;
import dev.katmesh.proto.v1.ModelInfoResponse;
import dev.katmesh.proto.v1.TokenizeRequest;
import dev.katmesh.proto.v1.TokenizeResponse;
import io.grpc.Context;
import io.grpc.Deadline;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.UniEmitter;
import jakarta.inject.Inject;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * katmesh.v1.Inference over gRPC. Each token the batcher makes goes out at once on GenerateStream;
 * a cancelled call frees its batch slot; the call's deadline is the sequence's deadline.
 */
@GrpcService
public class InferenceEndpoint implements Inference {

    static final String API = "grpc";

    @Inject
    PolicyServer server;

    @Inject
    ServingMetrics metrics;

    @Inject
    InferenceSettings settings;

    @Inject
    AgentQuotas quotas;

    @Override
    public Uni<GenerateResponse> generate(GenerateRequest request) {
        long deadline = deadlineNanos();
        String agent = agent();
        return Uni.createFrom().<GenerateResponse>emitter(emitter -> {
            Completion c = start(request, deadline, agent, new Completion.Observer() {
                @Override
                public void onToken(Completion c, int token, float logprob, long version, String textDelta) {}

                @Override
                public void onDone(Completion c) {
                    done(emitter, c);
                }
            });
            if (c != null) {
                emitter.onTermination(c::cancel);
            }
        });
    }

    private void done(UniEmitter<? super GenerateResponse> emitter, Completion c) {
        if (ended(c, emitter::fail)) {
            return;
        }
        GenerateResponse.Builder r = GenerateResponse.newBuilder()
                .setFinished(true)
                .setFinishReason(reason(c))
                .setText(c.text())
                .setPolicyVersion(c.lastVersion(server.version()));
        for (int id : c.prompt()) {
            r.addPromptTokenIds(id);
        }
        int[] tokens = c.tokens();
        float[] lps = c.logprobs();
        long[] versions = c.versions();
        for (int i = 0; i < tokens.length; i++) {
            r.addTokenIds(tokens[i]).addLogprobs(lps[i]).addTokenPolicyVersions(versions[i]);
        }
        metrics.request(API, "ok");
        emitter.complete(r.build());
    }

    @Override
    public Multi<GenerateResponse> generateStream(GenerateRequest request) {
        long deadline = deadlineNanos();
        String agent = agent();
        return Multi.createFrom().<GenerateResponse>emitter(emitter -> {
            boolean[] first = {true};
            Completion c = start(request, deadline, agent, new Completion.Observer() {
                @Override
                public void onToken(Completion c, int token, float logprob, long version, String textDelta) {
                    GenerateResponse.Builder r = GenerateResponse.newBuilder()
                            .addTokenIds(token)
                            .addLogprobs(logprob)
                            .addTokenPolicyVersions(version)
                            .setPolicyVersion(version)
                            .setText(textDelta);
                    if (first[0]) {
                        for (int id : c.prompt()) {
                            r.addPromptTokenIds(id);
                        }
                        first[0] = false;
                    }
                    emitter.emit(r.build());
                }

                @Override
                public void onDone(Completion c) {
                    if (ended(c, emitter::fail)) {
                        return;
                    }
                    metrics.request(API, "ok");
                    emitter.emit(GenerateResponse.newBuilder()
                            .setFinished(true)
                            .setFinishReason(reason(c))
                            .setText(c.unstreamed())
                            .setPolicyVersion(c.lastVersion(server.version()))
                            .build());
                    emitter.complete();
                }
            });
            if (c != null) {
                emitter.onTermination(c::cancel);
            }
        });
    }

    /** The agent the call's API key names, read on the thread the call was delivered on (its gRPC context). */
    private static String agent() {
        String agent = GrpcAuthInterceptor.AGENT.get();
        return agent == null ? ApiKeys.ANONYMOUS : agent;
    }

    /**
     * Starts the generation under the agent's quota (charged the prompt and generated tokens when it ends); a
     * refusal fails the call at once with its status.
     */
    private Completion start(GenerateRequest request, long deadline, String agent, Completion.Observer observer) {
        AgentQuotas.Admission admission = null;
        try {
            admission = quotas.admit(agent);
            AgentQuotas.Admission held = admission;
            int[] prompt = prompt(request);
            SamplingParams params = params(request.getSampling());
            Completion.Observer charged = new Completion.Observer() {
                @Override
                public void onToken(Completion c, int token, float logprob, long version, String textDelta) {
                    observer.onToken(c, token, logprob, version, textDelta);
                }

                @Override
                public void onDone(Completion c) {
                    held.release((long) c.prompt().length + c.count());
                    observer.onDone(c);
                }
            };
            return new Completion(
                            server,
                            metrics,
                            prompt,
                            params,
                            request.getSampling().getStopList(),
                            false,
                            charged)
                    .start(server, deadline);
        } catch (RuntimeException e) {
            if (admission != null) {
                admission.release(0); // refused before it ran
            }
            ServingError.ServingException s = ServingError.from(e);
            metrics.request(API, s.error.code);
            throw s.grpc();
        }
    }

    private int[] prompt(GenerateRequest r) {
        boolean ids = r.getPromptTokenIdsCount() > 0;
        boolean chat = r.getMessagesCount() > 0;
        if (ids == chat) {
            throw ServingError.INVALID_REQUEST.with(
                    "set exactly one of prompt_token_ids and messages", "prompt_token_ids");
        }
        if (ids) {
            int vocab = server.model().config().vocabSize();
            int[] out = new int[r.getPromptTokenIdsCount()];
            for (int i = 0; i < out.length; i++) {
                long id = Integer.toUnsignedLong(r.getPromptTokenIds(i));
                if (id >= vocab) {
                    throw ServingError.INVALID_REQUEST.with(
                            "prompt_token_ids[" + i + "] = " + id + " lies outside the vocabulary [0, " + vocab + ")",
                            "prompt_token_ids");
                }
                out[i] = (int) id;
            }
            return out;
        }
        ChatValidation.check(r.getMessagesList(), r.getToolsList());
        return server.chatPrompt(
                r.getMessagesList(), r.getToolsList(), TemplateVariables.of(r.getChatTemplateKwargs()));
    }

    private SamplingParams params(dev.katmesh.proto.v1.SamplingParams s) {
        float temperature = s.getTemperature();
        float topP = s.getTopP() == 0 ? 1f : s.getTopP();
        if (!Float.isFinite(temperature) || temperature < 0 || temperature > 100) {
            throw ServingError.INVALID_REQUEST.with(
                    "temperature must lie in [0, 100], got " + temperature, "temperature");
        }
        if (!(topP > 0 && topP <= 1)) {
            throw ServingError.INVALID_REQUEST.with("top_p must lie in (0, 1], got " + topP, "top_p");
        }
        int max = s.getMaxNewTokens() == 0 ? settings.defaultMaxTokens() : s.getMaxNewTokens();
        if (max < 0) { // a uint32 above 2^31
            throw ServingError.INVALID_REQUEST.with("max_new_tokens is too large", "max_new_tokens");
        }
        Set<Integer> stopIds = new HashSet<>(s.getStopTokenIdsList());
        long vocab = server.loaded() ? server.model().config().vocabSize() : Long.MAX_VALUE;
        for (int id : stopIds) {
            if (Integer.toUnsignedLong(id) >= vocab) {
                throw ServingError.INVALID_REQUEST.with(
                        "stop_token_ids holds " + Integer.toUnsignedLong(id) + ", outside the vocabulary [0, " + vocab
                                + ")",
                        "stop_token_ids");
            }
        }
        for (String stop : s.getStopList()) {
            if (stop.isEmpty()) {
                throw ServingError.INVALID_REQUEST.with("stop strings must not be empty", "stop");
            }
        }
        return new SamplingParams(max, temperature, s.getTopK(), topP, s.getSeed(), stopIds);
    }

    /** A call that ended without an answer: nobody listens (client cancelled), or it fails with its status. */
    private boolean ended(Completion c, Consumer<Throwable> fail) {
        if (c.cancelledByCaller()) {
            metrics.request(API, "client_cancelled");
            return true;
        }
        if (failed(c)) {
            ServingError.ServingException e = ServingError.of(c.finish()).with(c.message(), null);
            metrics.request(API, e.error.code);
            fail.accept(e.grpc());
            return true;
        }
        return false;
    }

    private static boolean failed(Completion c) {
        return c.finish() == Finish.ERROR || c.finish() == Finish.DEADLINE || c.finish() == Finish.CANCELLED;
    }

    static String reason(Completion c) {
        return c.finish() == Finish.LENGTH ? "length" : "stop";
    }

    /** The call's deadline as a {@link System#nanoTime()} (0 = none). */
    private static long deadlineNanos() {
        Deadline d = Context.current().getDeadline();
        return d == null ? 0 : System.nanoTime() + Math.max(1, d.timeRemaining(TimeUnit.NANOSECONDS));
    }

    @Override
    public Uni<TokenizeResponse> tokenize(TokenizeRequest request) {
        return Uni.createFrom().item(() -> {
            try {
                String text;
                Map<String, Object> variables = TemplateVariables.of(request.getChatTemplateKwargs());
                if (request.getMessagesCount() > 0) {
                    if (!request.getText().isEmpty()) {
                        throw ServingError.INVALID_REQUEST.with("set text or messages, not both", "text");
                    }
                    ChatValidation.check(request.getMessagesList(), request.getToolsList());
                    text = server.render(
                            request.getMessagesList(),
                            request.getToolsList(),
                            request.getAddGenerationPrompt(),
                            variables);
                } else {
                    text = request.getText();
                }
                TokenizeResponse.Builder r = TokenizeResponse.newBuilder().setText(text);
                int[] ids;
                int after = request.getContinueAfter();
                if (after > 0) {
                    if (after >= request.getMessagesCount()) {
                        throw ServingError.INVALID_REQUEST.with(
                                "continue_after (" + after + ") must be below the number of messages ("
                                        + request.getMessagesCount() + ")",
                                "continue_after");
                    }
                    String head = server.render(
                            request.getMessagesList().subList(0, after), request.getToolsList(), false, variables);
                    String rest = server.continuation(head, text)
                            .orElseThrow(() -> ServingError.INVALID_REQUEST.with(
                                    "the chat template does not render this conversation incrementally (the first "
                                            + after + " messages render differently once more follow)",
                                    "continue_after"));
                    r.setText(rest);
                    ids = server.model().tokenizer().encode(rest);
                } else {
                    ids = server.model().tokenizer().encode(text);
                }
                for (int id : ids) {
                    r.addTokenIds(id);
                }
                return r.build();
            } catch (RuntimeException e) {
                throw ServingError.from(e).grpc();
            }
        });
    }

    @Override
    public Uni<ModelInfoResponse> modelInfo(ModelInfoRequest request) {
        return Uni.createFrom().item(() -> {
            try {
                ModelConfig c = server.model().config();
                List<Integer> eos = new ArrayList<>(c.eosTokenIds());
                long params = server.model().decoder().parameters().values().stream()
                        .mapToLong(a -> a.getShape().size())
                        .sum();
                return ModelInfoResponse.newBuilder()
                        .setModelName(server.name())
                        .setPolicyVersion(server.version())
                        .setArchitecture(c.architecture())
                        .setVocabSize(c.vocabSize())
                        .setMaxContext(c.maxPositionEmbeddings())
                        .setParameterCount(params)
                        .addAllEosTokenIds(eos)
                        .build();
            } catch (RuntimeException e) {
                throw ServingError.from(e).grpc();
            }
        });
    }
}
