package dev.ember;

import java.util.List;

/** Sentence vectors for semantic search (encoders such as bert, and decoders). */
public final class Embedder extends NativeObject {
    /** How an embedder reads texts. */
    public static final class Params {
        int contextSize = 0;
        int threads = 0;
        int pooling = -1;
        boolean normalize = true;
        boolean truncate = true;

        /** Most tokens of a text; 0: the training context, at most 4096. */
        public Params contextSize(int n) { contextSize = n; return this; }
        public Params threads(int n) { threads = n; return this; }
        /** "mean", "cls" or "last"; default the file's own. */
        public Params pooling(String how) {
            int k = List.of("mean", "cls", "last").indexOf(how);
            if (k < 0) throw new IllegalArgumentException("pooling: mean, cls or last, not " + how);
            pooling = k + 1;
            return this;
        }
        /** Unit-length vectors (dot product = cosine); default true. */
        public Params normalize(boolean n) { normalize = n; return this; }
        /** A longer text: its first tokens (true, default) or an error. */
        public Params truncate(boolean t) { truncate = t; return this; }
    }

    private final Model model;

    Embedder(Model model, Params p) {
        super("embedder");
        this.model = model;
        long m = model.acquire();
        try {
            setHandle(Native.embedderCreate(m, p.contextSize, p.threads, p.pooling, p.normalize,
                                            p.truncate));
        } catch (RuntimeException e) {
            model.release();
            throw e;
        }
    }

    /** Floats per vector. */
    public synchronized int dimension() {
        return Native.embedderDimension(live());
    }

    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    /** One vector per text, computed in shared forward passes. */
    public synchronized float[][] embed(List<String> texts) {
        byte[][] data = new byte[texts.size()][];
        for (int i = 0; i < data.length; i++) data[i] = Native.utf8(texts.get(i));
        float[] flat = Native.embed(live(), data);
        int dim = data.length == 0 ? 0 : flat.length / data.length;
        float[][] out = new float[data.length][];
        for (int i = 0; i < data.length; i++) {
            out[i] = new float[dim];
            System.arraycopy(flat, i * dim, out[i], 0, dim);
        }
        return out;
    }

    /** Stops the running embed soon (any thread); it throws EmberException (CANCELLED). */
    @Override
    public void cancel() {
        super.cancel();
    }

    @Override
    void cancelNative(long h) {
        Native.embedderCancel(h);
    }

    @Override
    void freeNative(long h) {
        Native.embedderFree(h);
    }

    @Override
    void released() {
        model.release();
    }
}
