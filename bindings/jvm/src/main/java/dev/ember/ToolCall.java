package dev.ember;

import java.util.LinkedHashMap;
import java.util.Map;

/** A call of a function tool in an assistant's reply. */
public final class ToolCall {
    public final String id;
    public final String name;
    /** The arguments as a JSON object's text. */
    public final String argumentsJson;

    public ToolCall(String id, String name, String argumentsJson) {
        this.id = id;
        this.name = name;
        this.argumentsJson = argumentsJson;
    }

    Map<String, Object> toJson() {
        Map<String, Object> function = new LinkedHashMap<>();
        function.put("name", name);
        function.put("arguments", argumentsJson);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", id);
        m.put("type", "function");
        m.put("function", function);
        return m;
    }
}
