package dev.ember;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One conversation: its own context (KV cache) and threads. Calls run one at a time (a second
 * thread waits); {@link #cancel()} may be called from any thread. Each call gives the whole
 * prompt (a chat's history, formatted by the model's template in {@link #chat}); what it
 * shares with the previous call's tokens is not evaluated again.
 */
public final class Session extends NativeObject {
    /** The context of a session. */
    public static final class Params {
        int contextSize = 0;
        int threads = 0;
        int batchSize = 512;
        int kvType = 0;
        int lookup = 0;
        int draftMax = 16;
        Model draftModel;
        String chatTemplate;

        /** Tokens the context holds; 0: the model's training context, at most 4096. */
        public Params contextSize(int n) { contextSize = n; return this; }
        /** 0: the fast physical cores. */
        public Params threads(int n) { threads = n; return this; }
        public Params batchSize(int n) { batchSize = n; return this; }
        /** The KV cache's type: "f16" (default), "f32", "q8_0" or "q4_0". */
        public Params kvType(String type) {
            int k = List.of("f16", "f32", "q8_0", "q4_0").indexOf(type);
            if (k < 0) throw new IllegalArgumentException("kvType: f16, f32, q8_0 or q4_0, not " + type);
            kvType = k;
            return this;
        }
        /** Speculative decoding with a small model of the same vocabulary (the same text). */
        public Params draftModel(Model draft, int maxTokens) {
            draftModel = draft;
            draftMax = maxTokens;
            return this;
        }
        /** Speculative decoding from the text itself (replies that copy their input). */
        public Params lookup(int maxTokens) { lookup = maxTokens; return this; }
        /** The chat template of {@link Session#chat}: a built-in name (chatml, llama3, ...) or a
         *  Jinja template's text; default the model file's own. */
        public Params chatTemplate(String template) { chatTemplate = template; return this; }
    }

    /** Receives the reply's text as it is generated (whole characters); false stops it. */
    public interface TextListener {
        boolean onText(String text);
    }

    private final Model model;
    private final Model draft;
    private final String chatTemplate;
    Session(Model model, Params params) {
        super("session");
        this.model = model;
        long m = model.acquire();
        this.draft = params.draftModel;
        long d = 0;
        try {
            if (draft != null) d = draft.acquire();
            int[] sizes = {params.contextSize, params.threads, params.batchSize, params.kvType,
                           params.lookup, params.draftMax};
            setHandle(Native.sessionCreate(m, sizes, new GenerateParams().sampling(), 0, d));
        } catch (RuntimeException e) {
            model.release();
            if (d != 0) draft.release();
            throw e;
        }
        this.chatTemplate = params.chatTemplate;
    }

    /** The context's size in tokens. */
    public synchronized int contextSize() {
        return Native.sessionContextSize(live());
    }

    /** Continues text (no chat template) and returns the reply when it is whole. */
    public Reply generate(String prompt, GenerateParams params) {
        return generate(prompt, params, null);
    }

    /** The same, streaming the text to listener as it comes. */
    public synchronized Reply generate(String prompt, GenerateParams params, TextListener listener) {
        return run(Native.utf8(prompt), params, null, listener);
    }

    /** A reply to a conversation, formatted with the chat template; tools (OpenAI function
     *  tools as JSON text, or null) are shown through it. */
    public ChatReply chat(List<ChatMessage> messages, String toolsJson, GenerateParams params,
                          TextListener listener) {
        return chat(messages, toolsJson, null, params, listener);
    }

    /** templateVariablesJson: the template's variables, e.g. {"enable_thinking": false}. */
    public synchronized ChatReply chat(List<ChatMessage> messages, String toolsJson,
                                       String templateVariablesJson, GenerateParams params,
                                       TextListener listener) {
        List<Object> json = new ArrayList<>();
        for (ChatMessage m : messages) json.add(m.toJson());
        long m = model.live();
        byte[] template = Native.utf8(chatTemplate);
        byte[] prompt = Native.chatFormat(m, template, Native.utf8(Json.write(json)),
                                          Native.utf8(toolsJson),
                                          Native.utf8(templateVariablesJson));
        Reply reply = run(prompt, params, template == null ? new byte[0] : template, listener);
        @SuppressWarnings("unchecked")
        Map<String, Object> parsed = (Map<String, Object>) Json.parse(Native.string(
            Native.parseReply(m, template, prompt, Native.utf8(reply.text))));
        List<ToolCall> calls = new ArrayList<>();
        for (Object c : (List<?>) parsed.get("tool_calls")) {
            Map<?, ?> call = (Map<?, ?>) c;
            calls.add(new ToolCall("call_" + Long.toHexString(System.nanoTime()) + calls.size(),
                                   (String) call.get("name"), Json.write(call.get("arguments"))));
        }
        if (!calls.isEmpty()) {
            reply = new Reply(reply.text, "tool_calls", reply.promptTokens, reply.generatedTokens);
        }
        return new ChatReply((String) parsed.get("content"), (String) parsed.get("reasoning_content"),
                             calls, reply);
    }

    private Reply run(byte[] prompt, GenerateParams p, byte[] chatTemplate, TextListener listener) {
        long h = live();
        byte[][] stops = new byte[p.stop.size()][];
        for (int i = 0; i < stops.length; i++) stops[i] = Native.utf8(p.stop.get(i));
        StringBuilder text = new StringBuilder();
        int[] r;
        try {
            r = Native.generate(h, prompt, p.sampling(), p.seed, p.maxTokens, p.pacing(), stops,
                                Native.utf8(p.grammar), Native.utf8(p.jsonSchema), chatTemplate,
                                chunk -> {
                                    String s = Native.string(chunk);
                                    text.append(s);
                                    return listener == null || listener.onText(s);
                                });
        } catch (EmberException e) {
            // cancel() while it read its prompt: a reply that ends before its first token.
            if (e.status() != EmberException.CANCELLED) throw e;
            return new Reply("", "cancelled", 0, 0);
        }
        return new Reply(text.toString(), Reply.finishReason(r[0]), r[1], r[2]);
    }

    /** Stops the running call soon (any thread): the reply ends "cancelled" with its text so
     *  far. */
    @Override
    public void cancel() {
        super.cancel();
    }

    /** The whole state (tokens, cache, sampler), for {@link #loadState} here or in another
     *  process on the same model file. */
    public synchronized byte[] saveState() {
        return Native.saveState(live());
    }

    public synchronized void loadState(byte[] state) {
        Native.loadState(live(), state);
    }

    @Override
    void cancelNative(long h) {
        Native.sessionCancel(h);
    }

    @Override
    void freeNative(long h) {
        Native.sessionFree(h);
    }

    @Override
    void released() {
        model.release();
        if (draft != null) draft.release();
    }
}
