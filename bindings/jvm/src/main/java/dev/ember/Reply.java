package dev.ember;

/** A finished reply: its text, why it ended and what it cost. */
public final class Reply {
    public final String text;
    /** "stop" (an end token, a stop string, a whole grammar), "length", "cancelled", or
     *  "tool_calls" (a chat reply that called tools). */
    public final String finishReason;
    public final int promptTokens;
    public final int generatedTokens;

    Reply(String text, String finishReason, int promptTokens, int generatedTokens) {
        this.text = text;
        this.finishReason = finishReason;
        this.promptTokens = promptTokens;
        this.generatedTokens = generatedTokens;
    }

    static String finishReason(int stopReason) {
        switch (stopReason) {
            case 0: case 1: return "stop";
            case 3: case 4: return "cancelled";
            case 7: return "error";
            default: return "length";
        }
    }
}
