// Types of ember's Node.js binding (index.js). test/types.ts is checked against them with tsc.

/** Loads a GGUF file (memory-mapped; the weights packed for this CPU unless repack is false). */
export function loadModel(options: { modelPath: string; repack?: boolean }): Promise<Model>;

/** The library's version, "MAJOR.MINOR.PATCH". */
export const version: string;

/** An error from ember: its message, and the C API's status as the code. */
export interface EmberError extends Error {
  code:
    | "EMBER_ERROR_INVALID_ARGUMENT" | "EMBER_ERROR_FILE" | "EMBER_ERROR_FORMAT"
    | "EMBER_ERROR_CONTEXT_FULL" | "EMBER_ERROR_CANCELLED" | "EMBER_ERROR_BUFFER_TOO_SMALL"
    | "EMBER_ERROR_OUT_OF_MEMORY" | "EMBER_ERROR_INTERNAL";
}

export interface SamplingOptions {
  temperature?: number; // 0: greedy
  topK?: number;
  topP?: number;
  minP?: number;
  repeatPenalty?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  repeatLastN?: number;
  seed?: number; // default: a new random seed per call, unless the session has one
}

export interface SessionOptions extends SamplingOptions {
  contextSize?: number; // 0: the model's training context, at most 4096
  threads?: number;
  batchSize?: number;
  kvType?: "f16" | "f32" | "q8_0" | "q4_0";
  systemPrompt?: string;
  chatTemplate?: string; // a built-in name (chatml, llama3, ...) or a Jinja template's text
  draftModel?: Model;
  draftMax?: number;
  lookup?: number;
}

export interface ReplyOptions extends SamplingOptions {
  maxTokens?: number; // default: until the context is full
  stop?: string | string[];
  grammar?: string; // GBNF
  jsonSchema?: object | string;
  signal?: AbortSignal;
  onTextChunk?: (text: string) => void;
}

export interface ChatOptions extends ReplyOptions {
  tools?: Tool[];
  templateVariables?: Record<string, unknown>; // e.g. { enable_thinking: false }
}

export interface Tool {
  type: "function";
  function: { name: string; description?: string; parameters?: object };
}

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** An OpenAI chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  reasoning_content?: string;
}

export interface AssistantMessage {
  role: "assistant";
  content: string;
  reasoningContent?: string;
  toolCalls?: ToolCall[];
}

export interface ReplyResult {
  text: string;
  finishReason: "stop" | "length" | "cancelled" | "tool_calls" | "error";
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  message?: AssistantMessage;
}

/** A reply being generated: await it for its value, or iterate over its text as it comes. */
export interface Reply<T> extends PromiseLike<T>, AsyncIterable<string> {
  readonly result: Promise<ReplyResult>;
  catch<R = never>(onRejected?: (reason: unknown) => R | PromiseLike<R>): Promise<T | R>;
  cancel(): void;
}

export class Model {
  private constructor();
  readonly modelPath: string;
  readonly info: { nVocab: number; nCtxTrain: number; bos: number; eos: number };
  tokenize(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): Int32Array;
  detokenize(tokens: ArrayLike<number>): string;
  createSession(options?: SessionOptions): Promise<Session>;
  createEmbedder(options?: {
    contextSize?: number;
    threads?: number;
    pooling?: "mean" | "cls" | "last";
    normalize?: boolean;
    truncate?: boolean;
  }): Promise<Embedder>;
  close(): void;
}

export class Session {
  private constructor();
  readonly model: Model;
  readonly contextSize: number;
  history: ChatMessage[];
  complete(text: string, options?: ReplyOptions): Reply<string>;
  chat(messages: ChatMessage[], options?: ChatOptions): Reply<AssistantMessage>;
  prompt(text: string, options?: ChatOptions): Reply<string>;
  saveState(): Promise<Uint8Array>; // a Buffer
  loadState(state: Uint8Array): Promise<void>;
  close(): void;
}

export class Embedder {
  private constructor();
  readonly dimension: number;
  embed(text: string): Promise<Float32Array>;
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): void;
}
