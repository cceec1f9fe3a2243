package dev.ember;

/**
 * A session or an embedder: a C object that one call at a time uses (the subclass's methods
 * synchronize on it), that cancel() may interrupt from any thread, and that close() frees once
 * the running call has returned, then letting go of the models it holds.
 */
abstract class NativeObject implements java.io.Closeable {
    private final String what;
    private long handle;
    // Guards handle between cancel() (any thread, while a call holds this object's monitor)
    // and the free in close().
    private final Object handleLock = new Object();

    NativeObject(String what) {
        this.what = what;
    }

    /** Set once by the subclass's constructor. */
    final void setHandle(long h) {
        handle = h;
    }

    /** The live handle (call with this object's monitor held), or EmberException. */
    final long live() {
        if (handle == 0) throw new EmberException(EmberException.INVALID_ARGUMENT, "the " + what + " is closed");
        return handle;
    }

    abstract void cancelNative(long h);
    abstract void freeNative(long h);
    /** After the free: release the models this object holds. */
    abstract void released();

    /** Stops the running call soon, from any thread. */
    public void cancel() {
        synchronized (handleLock) {
            if (handle != 0) cancelNative(handle);
        }
    }

    /** Cancels a running call, waits for it, and frees the C object. */
    @Override
    public void close() {
        cancel();
        synchronized (this) {
            synchronized (handleLock) {
                if (handle == 0) return;
                freeNative(handle);
                handle = 0;
            }
            released();
        }
    }
}
