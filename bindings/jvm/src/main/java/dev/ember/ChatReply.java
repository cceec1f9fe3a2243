package dev.ember;

import java.util.List;

/** An assistant's reply read the way the model's chat template writes thinking and tool
 *  calls. */
public final class ChatReply {
    /** The text of the reply (without thinking and tool-call markup). */
    public final String content;
    /** The reply's thinking, or null when it did not think. */
    public final String reasoningContent;
    public final List<ToolCall> toolCalls;
    /** The raw reply and its counts; finishReason "tool_calls" when it called tools. */
    public final Reply reply;

    ChatReply(String content, String reasoningContent, List<ToolCall> toolCalls, Reply reply) {
        this.content = content;
        this.reasoningContent = reasoningContent;
        this.toolCalls = toolCalls;
        this.reply = reply;
    }

    /** The reply as a message for the conversation's next turn. */
    public ChatMessage toMessage() {
        return ChatMessage.assistant(content, toolCalls);
    }
}
