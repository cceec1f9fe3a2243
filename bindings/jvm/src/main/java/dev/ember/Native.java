package dev.ember;

import java.nio.charset.StandardCharsets;

/**
 * The JNI library (libember_jni.so: ember's engine and jni/ember_jni.cpp) and its functions.
 * Loaded from the system property or environment variable EMBER_JNI_LIBRARY (a path), else
 * by name from java.library.path (an Android app's jniLibs). Text crosses as UTF-8 bytes: JNI's
 * own string functions speak "modified UTF-8", which differs for NUL and for characters
 * outside the BMP (emoji).
 */
final class Native {
    static {
        String path = System.getProperty("EMBER_JNI_LIBRARY", System.getenv("EMBER_JNI_LIBRARY"));
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("ember_jni");
        }
    }

    private Native() {}

    static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    static String string(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** Receives generated text (whole UTF-8 characters); false stops the generation. */
    interface Chunks {
        boolean onChunk(byte[] text);
    }

    static native String version();

    // models
    static native long modelLoad(byte[] path, boolean repack);
    static native void modelFree(long model);
    static native int[] modelInfo(long model); // n_vocab, n_ctx_train, bos, eos
    static native int[] tokenize(long model, byte[] text, boolean addSpecial, boolean parseSpecial);
    static native byte[] detokenize(long model, int[] tokens);
    static native byte[] chatFormat(long model, byte[] template, byte[] messagesJson,
                                    byte[] toolsJson, byte[] variablesJson);
    static native byte[] parseReply(long model, byte[] template, byte[] prompt, byte[] reply);

    // sessions
    static native long sessionCreate(long model, int[] sizes, float[] sampling, long seed,
                                     long draftModel);
    static native void sessionFree(long session);
    static native void sessionCancel(long session);
    static native int sessionContextSize(long session);
    /** Returns {stop reason, prompt tokens, generated tokens}. */
    static native int[] generate(long session, byte[] prompt, float[] sampling, long seed,
                                 int maxTokens, float[] pacing, byte[][] stops, byte[] grammar,
                                 byte[] jsonSchema, byte[] chatTemplate, Chunks chunks);
    static native byte[] saveState(long session);
    static native void loadState(long session, byte[] state);

    // embeddings
    static native long embedderCreate(long model, int contextSize, int threads, int pooling,
                                      boolean normalize, boolean truncate);
    static native void embedderFree(long embedder);
    static native void embedderCancel(long embedder);
    static native int embedderDimension(long embedder);
    static native float[] embed(long embedder, byte[][] texts);
}
