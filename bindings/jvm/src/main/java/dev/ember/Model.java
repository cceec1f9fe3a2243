package dev.ember;

/**
 * A GGUF model file loaded (memory-mapped) for generation and embeddings. Thread-safe; share
 * one between sessions. close() frees it once the sessions and embedders made from it are
 * closed too.
 */
public final class Model implements java.io.Closeable {
    private long handle;
    private int users = 1; // this object, and each open session or embedder made from it
    private final int[] info;

    private Model(long handle) {
        this.handle = handle;
        this.info = Native.modelInfo(handle);
    }

    /** Loads a model, its weights packed for this CPU's fastest kernels. */
    public static Model load(String path) {
        return load(path, true);
    }

    /** repack false: every kernel reads the mapped file in place (less work at load time). */
    public static Model load(String path, boolean repack) {
        return new Model(Native.modelLoad(Native.utf8(path), repack));
    }

    /** The library's version, "MAJOR.MINOR.PATCH". */
    public static String version() {
        return Native.version();
    }

    public int vocabularySize() { return info[0]; }
    public int trainingContext() { return info[1]; }
    /** The beginning-of-sequence token, or -1. */
    public int bosToken() { return info[2]; }
    /** The end-of-sequence token, or -1. */
    public int eosToken() { return info[3]; }

    /** Text to tokens, with the special tokens the vocabulary adds (BOS). */
    public int[] tokenize(String text) {
        return tokenize(text, true, false);
    }

    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return Native.tokenize(live(), Native.utf8(text), addSpecial, parseSpecial);
    }

    public String detokenize(int[] tokens) {
        return Native.string(Native.detokenize(live(), tokens));
    }

    /** A conversation on this model with its own context. */
    public Session newSession(Session.Params params) {
        return new Session(this, params);
    }

    public Session newSession() {
        return newSession(new Session.Params());
    }

    /** A sentence embedder on this model. */
    public Embedder newEmbedder(Embedder.Params params) {
        return new Embedder(this, params);
    }

    public Embedder newEmbedder() {
        return newEmbedder(new Embedder.Params());
    }

    synchronized long live() {
        if (handle == 0) throw new EmberException(EmberException.INVALID_ARGUMENT, "the model is closed");
        return handle;
    }

    synchronized long acquire() {
        long h = live();
        users++;
        return h;
    }

    synchronized void release() {
        if (--users == 0 && handle != 0) {
            Native.modelFree(handle);
            handle = 0;
        }
    }

    private boolean closed;

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (--users == 0) {
            Native.modelFree(handle);
            handle = 0;
        }
    }
}
