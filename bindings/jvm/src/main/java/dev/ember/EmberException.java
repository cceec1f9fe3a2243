package dev.ember;

/** A failed call, with ember's message and its status (ember.h's ember_status). */
public class EmberException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public static final int INVALID_ARGUMENT = 1;
    public static final int FILE = 2;
    public static final int FORMAT = 3;
    public static final int CONTEXT_FULL = 4;
    public static final int CANCELLED = 5;
    public static final int BUFFER_TOO_SMALL = 6;
    public static final int OUT_OF_MEMORY = 7;
    public static final int INTERNAL = 8;

    private final int status;

    public EmberException(int status, String message) {
        super(message);
        this.status = status;
    }

    EmberException(int status, byte[] utf8Message) {
        this(status, new String(utf8Message, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The ember_status of the failure: {@link #FILE}, {@link #CONTEXT_FULL}, ... */
    public int status() {
        return status;
    }
}
