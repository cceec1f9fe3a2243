package dev.ember;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One message of a conversation, as OpenAI's chat API has it. */
public final class ChatMessage {
    /** "system", "user", "assistant" or "tool". */
    public final String role;
    public final String content;
    /** A tool message: the id of the call it answers; else null. */
    public final String toolCallId;
    /** An assistant message: the tools it called (may be empty). */
    public final List<ToolCall> toolCalls;

    public ChatMessage(String role, String content) {
        this(role, content, null, List.of());
    }

    private ChatMessage(String role, String content, String toolCallId, List<ToolCall> toolCalls) {
        this.role = role;
        this.content = content;
        this.toolCallId = toolCallId;
        this.toolCalls = toolCalls;
    }

    public static ChatMessage system(String content) { return new ChatMessage("system", content); }
    public static ChatMessage user(String content) { return new ChatMessage("user", content); }
    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
    /** An assistant's turn that called tools. */
    public static ChatMessage assistant(String content, List<ToolCall> calls) {
        return new ChatMessage("assistant", content, null, List.copyOf(calls));
    }
    /** A tool's result for the call with this id. */
    public static ChatMessage tool(String toolCallId, String content) {
        return new ChatMessage("tool", content, toolCallId, List.of());
    }

    Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        if (toolCallId != null) m.put("tool_call_id", toolCallId);
        if (!toolCalls.isEmpty()) {
            Object[] calls = new Object[toolCalls.size()];
            for (int i = 0; i < calls.length; i++) calls[i] = toolCalls.get(i).toJson();
            m.put("tool_calls", List.of(calls));
        }
        return m;
    }
}
