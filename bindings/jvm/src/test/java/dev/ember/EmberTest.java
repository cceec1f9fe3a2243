package dev.ember;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Java binding against the engine's own answers (ember run's text, llama.cpp's embeddings,
 * the C API's errors): every public static void test* method, run by main (CTest: JvmBinding,
 * with -DEMBER_JNI_LIBRARY, -DEMBER_BIN, -DEMBER_ROOT, -DEMBER_SHARED_DIR). Plain Java: no test
 * framework to install.
 */
public final class EmberTest {
    static final Path ROOT = Paths.get(System.getProperty("EMBER_ROOT", "."));
    static final String STORIES = ROOT.resolve("models/stories260K.gguf").toString();
    static final Path SHARED = Paths.get(System.getProperty("EMBER_SHARED_DIR", "../shared"));
    static final String EMBER = System.getProperty("EMBER_BIN", "build/bin/ember");

    static final class Skip extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Skip(String why) { super(why); }
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    static void equal(Object want, Object got, String what) {
        if (!want.equals(got)) throw new AssertionError(what + ": want <" + want + "> got <" + got + ">");
    }

    static String shared(String path) {
        Path p = SHARED.resolve(path);
        if (!Files.exists(p)) throw new Skip(p + " is not there");
        return p.toString();
    }

    static String emberRun(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(EMBER, "run"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = readAll(p.getInputStream());
        check(p.waitFor() == 0, "ember run failed");
        return new String(out, StandardCharsets.UTF_8);
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }

    static <T extends Throwable> T expect(Class<T> type, Runnable body) {
        try {
            body.run();
        } catch (Throwable e) {
            if (type.isInstance(e)) return type.cast(e);
            throw new AssertionError("expected " + type.getSimpleName() + ", got " + e, e);
        }
        throw new AssertionError("expected " + type.getSimpleName() + ", nothing thrown");
    }

    static GenerateParams greedy(int n) {
        return new GenerateParams().maxTokens(n).temperature(0);
    }

    public static void testCompletionIsEmberRunsText() throws Exception {
        try (Model model = Model.load(STORIES);
             Session session = model.newSession(new Session.Params().contextSize(512))) {
            equal(emberRun("-m", STORIES, "-p", "Once upon a time", "-n", "20", "--temp", "0"),
                  session.generate("Once upon a time", greedy(20)).text, "greedy");
            Reply sampled = session.generate("Once upon a time",
                                             new GenerateParams().maxTokens(30).temperature(0.9f).seed(7));
            equal(emberRun("-m", STORIES, "-p", "Once upon a time", "-n", "30", "--temp", "0.9",
                           "--seed", "7"), sampled.text, "seed 7");
            equal("length", sampled.finishReason, "finish");
            equal(30, sampled.generatedTokens, "generated");
            equal(model.tokenize("Once upon a time").length, sampled.promptTokens, "prompt tokens");
        }
    }

    public static void testStreamingAndStoppingFromTheListener() {
        try (Model model = Model.load(STORIES); Session session = model.newSession()) {
            String whole = session.generate("Once upon a time", greedy(30)).text;
            StringBuilder pieces = new StringBuilder();
            AtomicInteger calls = new AtomicInteger();
            Reply r = session.generate("Once upon a time", greedy(30), text -> {
                pieces.append(text);
                calls.incrementAndGet();
                return true;
            });
            equal(whole, pieces.toString(), "streamed");
            equal(whole, r.text, "returned");
            check(calls.get() > 10, "pieces: " + calls.get());
            Reply stopped = session.generate("Once upon a time", greedy(30), text -> calls.decrementAndGet() > 5);
            equal("cancelled", stopped.finishReason, "listener's false");
            check(stopped.generatedTokens < 30, "stopped early");
        }
    }

    public static void testCancelFromAnotherThread() throws Exception {
        try (Model model = Model.load(STORIES);
             Session session = model.newSession(new Session.Params().contextSize(512))) {
            // A whole context takes this model some 20 ms, so a cancel after a fixed delay could
            // come after the reply: this thread cancels once the first piece has come.
            java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
            Thread canceller = new Thread(() -> {
                try {
                    started.await();
                } catch (InterruptedException ignored) {
                    return;
                }
                session.cancel();
            });
            canceller.start();
            Reply r;
            try {
                r = session.generate("Once upon a time", greedy(-1), text -> {
                    started.countDown();
                    return true;
                });
            } finally {
                started.countDown();
                canceller.join();
            }
            equal("cancelled", r.finishReason, "finish");
            check(r.generatedTokens > 0 && r.generatedTokens < session.contextSize(), "partial");
            equal(emberRun("-m", STORIES, "-p", "Once upon a time", "-n", "20", "--temp", "0"),
                  session.generate("Once upon a time", greedy(20)).text, "whole after");
        }
    }

    public static void testJsonSchemaReplyIsValid() {
        String schema = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
                        + "\"maxLength\": 12}, \"age\": {\"type\": \"integer\", \"minimum\": 0, "
                        + "\"maximum\": 99}}, \"required\": [\"name\", \"age\"], "
                        + "\"additionalProperties\": false}";
        try (Model model = Model.load(STORIES); Session session = model.newSession()) {
            Reply r = session.generate("Once upon a time",
                                       new GenerateParams().maxTokens(100).seed(3).jsonSchema(schema));
            equal("stop", r.finishReason, "finish");
            Map<?, ?> value = (Map<?, ?>) Json.parse(r.text);
            equal(2, value.size(), "keys");
            check(((String) value.get("name")).length() <= 12, "name");
            double age = (Double) value.get("age");
            check(age == Math.rint(age) && age >= 0 && age <= 99, "age " + age);
        }
    }

    public static void testErrorsCarryEmbersMessage() {
        EmberException e = expect(EmberException.class, () -> Model.load("/nonexistent/model.gguf"));
        equal(EmberException.FILE, e.status(), "status");
        check(e.getMessage().contains("/nonexistent/model.gguf"), e.getMessage());
        try (Model model = Model.load(STORIES); Session session = model.newSession()) {
            e = expect(EmberException.class,
                       () -> session.generate("Once", new GenerateParams().grammar("root ::= (")));
            equal(EmberException.INVALID_ARGUMENT, e.status(), "grammar status");
            check(e.getMessage().matches("(?s).*grammar.*line 1.*"), e.getMessage());
            e = expect(EmberException.class,
                       () -> session.generate("Once", new GenerateParams().topP(2)));
            check(e.getMessage().contains("top_p"), e.getMessage());
            IllegalStateException thrown = expect(IllegalStateException.class,
                () -> session.generate("Once", greedy(20), text -> { throw new IllegalStateException("app"); }));
            equal("app", thrown.getMessage(), "the listener's own exception");
            check(session.generate("Once", greedy(3)).generatedTokens == 3, "usable after");
            // Values that cross as C strings: a NUL would cut them short, so it is refused.
            e = expect(EmberException.class,
                       () -> session.generate("Once", greedy(3).stop("a\0b")));
            check(e.getMessage().contains("NUL"), e.getMessage());
            equal(2, session.generate("Once\0upon", greedy(2)).generatedTokens, "a NUL in a prompt");
            try (Embedder embedder = model.newEmbedder()) {
                e = expect(EmberException.class, () -> embedder.embed("a\0b"));
                check(e.getMessage().contains("NUL"), e.getMessage());
            }
            try (Session small = model.newSession(new Session.Params().contextSize(32))) {
                e = expect(EmberException.class,
                           () -> small.generate("Once upon a time ".repeat(20), greedy(5)));
                equal(EmberException.CONTEXT_FULL, e.status(), "context full");
            }
            Session closed = model.newSession();
            closed.close();
            e = expect(EmberException.class, () -> closed.generate("Once", greedy(2)));
            check(e.getMessage().contains("closed"), e.getMessage());
        }
    }

    public static void testPacingReachesTheEngine() {
        try (Model model = Model.load(STORIES); Session session = model.newSession()) {
            long start = System.nanoTime();
            Reply r = session.generate("Once", greedy(11).maxTokensPerSecond(100));
            double seconds = (System.nanoTime() - start) / 1e9;
            equal(11, r.generatedTokens, "tokens");
            check(seconds >= 0.09, "11 tokens at 100/s took " + seconds + " s"); // sleeps: a floor
            EmberException e = expect(EmberException.class,
                () -> session.generate("Once", greedy(2).maxTokensPerSecond(-1)));
            check(e.getMessage().contains("max_tokens_per_second"), e.getMessage());
            e = expect(EmberException.class,
                () -> session.generate("Once", greedy(2).thermalLimitCelsius(-5)));
            check(e.getMessage().contains("thermal_limit_celsius"), e.getMessage());
        }
    }

    public static void testSavedStateRestores() {
        try (Model model = Model.load(STORIES); Session session = model.newSession()) {
            session.generate("Once upon a time", greedy(10));
            byte[] state = session.saveState();
            try (Session other = model.newSession()) {
                other.loadState(state);
                check(java.util.Arrays.equals(state, other.saveState()), "same state");
                EmberException e = expect(EmberException.class,
                                          () -> other.loadState(java.util.Arrays.copyOf(state, 100)));
                equal(EmberException.FORMAT, e.status(), "damaged state");
            }
        }
    }

    public static void testModelOutlivesItsSessions() {
        Model model = Model.load(STORIES);
        Session session = model.newSession();
        model.close(); // the session keeps it
        check(session.generate("Once", greedy(3)).generatedTokens == 3, "session after model.close");
        session.close();
        expect(EmberException.class, () -> model.tokenize("x"));
    }

    public static void testChatIsEmberRunsChat() throws Exception {
        String file = shared("arch2/models/mini-qwen3-Q8_0.gguf");
        String expected = emberRun("-m", file, "--chat", "--system", "Be brief.", "-p", "Hi there",
                                   "-n", "30", "--temp", "0");
        try (Model model = Model.load(file); Session session = model.newSession()) {
            StringBuilder streamed = new StringBuilder();
            ChatReply reply = session.chat(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi there")),
                                           null, greedy(30), text -> { streamed.append(text); return true; });
            equal(expected, streamed.toString(), "streamed");
            equal(expected, reply.content, "content");
            check(reply.toolCalls.isEmpty(), "no calls");
        }
    }

    public static void testToolCalls() throws Exception {
        String file = shared("arch2/models/mini-qwen3-Q8_0.gguf");
        String template = Files.readString(Paths.get(shared("templates/templates/Qwen-Qwen2.5-7B-Instruct.jinja")));
        String tools = "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                       + "\"description\": \"The weather in a city\", \"parameters\": {\"type\": "
                       + "\"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]";
        String call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        try (Model model = Model.load(file);
             Session session = model.newSession(new Session.Params().contextSize(1024).chatTemplate(template))) {
            ChatReply reply = session.chat(List.of(ChatMessage.user("Weather in Paris?")), tools,
                                           greedy(60).grammar("root ::= " + Json.write(call)), null);
            equal("tool_calls", reply.reply.finishReason, "finish");
            equal(1, reply.toolCalls.size(), "calls");
            equal("get_weather", reply.toolCalls.get(0).name, "name");
            equal(Map.of("city", "Paris"), Json.parse(reply.toolCalls.get(0).argumentsJson), "arguments");
            // The call and its result go back into the conversation.
            ChatReply next = session.chat(List.of(ChatMessage.user("Weather in Paris?"), reply.toMessage(),
                                                  ChatMessage.tool(reply.toolCalls.get(0).id, "sunny")),
                                          tools, greedy(5), null);
            check(next.reply.promptTokens > reply.reply.promptTokens, "the tool's turn is in the prompt");
        }
    }

    public static void testEmbeddingsAreLlamaCpps() throws Exception {
        String file = shared("arch/models/mini-bert-F16.gguf");
        Map<?, ?> reference = (Map<?, ?>) Json.parse(Files.readString(Paths.get(shared("arch/reference/mini-bert-F16.json"))));
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(Paths.get(shared("arch/reference/mini-bert-F16.embd.f32"))))
                             .order(ByteOrder.LITTLE_ENDIAN);
        List<String> texts = new ArrayList<>();
        for (Object t : (List<?>) reference.get("texts")) texts.add((String) t);
        try (Model model = Model.load(file); Embedder embedder = model.newEmbedder()) {
            float[][] vectors = embedder.embed(texts);
            int dim = embedder.dimension();
            equal(texts.size(), vectors.length, "count");
            for (int i = 0; i < vectors.length; i++) {
                double dot = 0, norm = 0;
                for (int j = 0; j < dim; j++) {
                    double r = raw.getFloat((i * dim + j) * 4);
                    dot += vectors[i][j] * r;
                    norm += r * r;
                }
                check(dot / Math.sqrt(norm) > 0.999, "text " + i + ": cosine " + dot / Math.sqrt(norm));
            }
            equal(dim, embedder.embed(texts.get(0)).length, "one");
            EmberException e = expect(EmberException.class, model::newSession);
            check(e.getMessage().contains("encoder"), e.getMessage());
        }
    }

    static long rssKiB() throws IOException {
        Matcher m = Pattern.compile("VmRSS:\\s+(\\d+)").matcher(Files.readString(Paths.get("/proc/self/status")));
        check(m.find(), "VmRSS");
        return Long.parseLong(m.group(1));
    }

    public static void testAThousandModelsComeAndGo() throws IOException {
        Runnable round = () -> {
            try (Model model = Model.load(STORIES);
                 Session session = model.newSession(new Session.Params().contextSize(64));
                 Embedder embedder = model.newEmbedder(new Embedder.Params().contextSize(64))) {
                session.generate("Once", greedy(2));
                embedder.embed("Once");
            }
        };
        for (int i = 0; i < 100; i++) round.run();
        System.gc();
        long before = rssKiB();
        for (int i = 0; i < 1000; i++) round.run();
        System.gc();
        long grown = rssKiB() - before;
        check(grown < 32768, "RSS grew " + grown + " KiB over 1000 rounds");
    }

    public static void main(String[] args) throws Exception {
        int failed = 0, passed = 0, skipped = 0;
        for (Method m : EmberTest.class.getDeclaredMethods()) {
            if (!m.getName().startsWith("test") || !Modifier.isStatic(m.getModifiers())) continue;
            try {
                m.invoke(null);
                passed++;
                System.out.println("ok   " + m.getName());
            } catch (java.lang.reflect.InvocationTargetException e) {
                if (e.getCause() instanceof Skip) {
                    skipped++;
                    System.out.println("skip " + m.getName() + ": " + e.getCause().getMessage());
                } else {
                    failed++;
                    System.out.println("FAIL " + m.getName() + ": " + e.getCause());
                    e.getCause().printStackTrace(System.out);
                }
            }
        }
        System.out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
