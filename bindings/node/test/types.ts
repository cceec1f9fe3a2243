// Typed use of the binding, as an Electron or TypeScript service would write it: `tsc --noEmit
// --strict` must accept it against index.d.ts (the Node suite runs tsc; nothing here runs).
import { loadModel, version, type AssistantMessage, type ChatMessage, type Tool } from "../index.js";

export async function typed(): Promise<string> {
  const model = await loadModel({ modelPath: "models/stories260K.gguf" });
  const session = await model.createSession({ contextSize: 512, kvType: "q8_0", seed: 1 });
  const text: string = await session.complete("Once upon a time", { maxTokens: 20, temperature: 0 });
  const controller = new AbortController();
  for await (const chunk of session.complete("The dog", { signal: controller.signal, stop: ["."] })) {
    const piece: string = chunk;
    void piece;
  }
  const tools: Tool[] = [{ type: "function", function: { name: "get_weather", parameters: {} } }];
  const messages: ChatMessage[] = [{ role: "user", content: "Weather?" }];
  const reply = session.chat(messages, { tools, jsonSchema: { type: "object" } });
  const message: AssistantMessage = await reply;
  const calls = message.toolCalls?.map((c) => c.function.name) ?? [];
  const result = await reply.result;
  const reason: "stop" | "length" | "cancelled" | "tool_calls" | "error" = result.finishReason;
  const answer: string = await session.prompt("Hi", { templateVariables: { enable_thinking: false } });
  const state: Uint8Array = await session.saveState();
  await session.loadState(state);
  const embedder = await model.createEmbedder({ pooling: "mean" });
  const one: Float32Array = await embedder.embed("text");
  const many: Float32Array[] = await embedder.embed(["a", "b"]);
  const ids: Int32Array = model.tokenize("hello");
  embedder.close();
  session.close();
  model.close();
  return [text, calls.join(), reason, answer, one.length, many.length, ids.length, version].join();
}
