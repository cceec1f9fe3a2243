// ember for Node.js: models, chat sessions and embedders over the N-API addon (src/addon.cpp).
// Every long call runs on a worker thread and returns a promise; a reply is also an async
// iterator of its text. See README.md; docs/bindings.md compares it with node-llama-cpp.
"use strict";

const path = require("node:path");
const fs = require("node:fs");
const crypto = require("node:crypto");

// The addon: $EMBER_NODE_ADDON, beside this file (a packed module), or the checkout's build.
function loadAddon() {
  const candidates = process.env.EMBER_NODE_ADDON
    ? [process.env.EMBER_NODE_ADDON]
    : [path.join(__dirname, "ember.node"),
       path.join(__dirname, "..", "..", "build", "bindings", "node", "ember.node")];
  for (const file of candidates) {
    if (fs.existsSync(file)) return require(path.resolve(file));
  }
  throw new Error("ember: the addon ember.node was not found (build ember with cmake, the " +
                  "default EMBER_SHARED=ON, or set EMBER_NODE_ADDON); looked at " +
                  candidates.join(", "));
}
const native = loadAddon();

const KV_TYPES = { f16: 0, f32: 1, q8_0: 2, q4_0: 3 };
const POOLINGS = { default: -1, mean: 1, cls: 2, last: 3 };
// ember_stop_reason -> OpenAI's finish_reason words
const FINISH = ["stop", "stop", "length", "cancelled", "cancelled", "length", "length", "error"];

// Options a call takes; any other key is refused (never silently ignored).
const SAMPLING_KEYS = ["temperature", "topK", "topP", "minP", "repeatPenalty",
                       "frequencyPenalty", "presencePenalty", "repeatLastN", "seed"];
const REPLY_KEYS = [...SAMPLING_KEYS, "maxTokens", "stop", "grammar", "jsonSchema", "signal",
                    "onTextChunk"];

function checkKeys(options, allowed, where) {
  for (const key of Object.keys(options ?? {})) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${where}: unknown option "${key}" (ember takes ${allowed.join(", ")})`);
    }
  }
}

function pick(options, keys) {
  const out = {};
  for (const key of keys) if (options?.[key] !== undefined) out[key] = options[key];
  return out;
}

function randomSeed() {
  return crypto.randomBytes(6).readUIntLE(0, 6);  // exact in a double
}

/** Loads a GGUF file. options: { modelPath, repack = true }. */
async function loadModel(options) {
  checkKeys(options, ["modelPath", "repack"], "loadModel");
  if (typeof options?.modelPath !== "string") throw new TypeError("loadModel: modelPath: a string");
  const handle = await native.loadModel(options.modelPath, { repack: options.repack ?? true });
  return new Model(handle, options.modelPath);
}

class Model {
  constructor(handle, modelPath) {
    this._handle = handle;
    this.modelPath = modelPath;
    this.info = native.modelInfo(handle);
  }

  /** Text to token ids (Int32Array). */
  tokenize(text, { addSpecial = true, parseSpecial = false } = {}) {
    return native.tokenize(this._handle, text, addSpecial, parseSpecial);
  }

  /** Token ids to text. */
  detokenize(tokens) {
    return native.detokenize(this._handle, Int32Array.from(tokens));
  }

  /**
   * A conversation: its own context (KV cache), history and sampling defaults.
   * options: contextSize (0: the model's, at most 4096), threads, batchSize, kvType ("f16",
   * "f32", "q8_0", "q4_0"), systemPrompt, chatTemplate (a built-in name or a Jinja template's
   * text; default the file's own), draftModel (a Model) or lookup (speculative decoding), and
   * the sampling defaults of its calls (temperature, topK, topP, minP, repeatPenalty,
   * frequencyPenalty, presencePenalty, repeatLastN, seed).
   */
  async createSession(options = {}) {
    checkKeys(options, ["contextSize", "threads", "batchSize", "kvType", "systemPrompt",
                        "chatTemplate", "draftModel", "draftMax", "lookup", ...SAMPLING_KEYS],
              "createSession");
    const kvType = KV_TYPES[options.kvType ?? "f16"];
    if (kvType === undefined) throw new TypeError(`createSession: kvType "${options.kvType}"`);
    // The sampling defaults go along so that values outside their domain fail here.
    const params = { ...pick(options, ["contextSize", "threads", "batchSize", "lookup",
                                       "draftMax", ...SAMPLING_KEYS]), kvType };
    const draft = options.draftModel ? options.draftModel._handle : null;
    const handle = native.createSession(this._handle, params, draft);
    return new Session(this, handle, options);
  }

  /** A sentence embedder. options: contextSize, threads, pooling ("mean", "cls", "last"),
   *  normalize (true), truncate (true). */
  async createEmbedder(options = {}) {
    checkKeys(options, ["contextSize", "threads", "pooling", "normalize", "truncate"],
              "createEmbedder");
    const pooling = POOLINGS[options.pooling ?? "default"];
    if (pooling === undefined) throw new TypeError(`createEmbedder: pooling "${options.pooling}"`);
    const { handle, dimension } = native.createEmbedder(this._handle, { ...options, pooling });
    return new Embedder(handle, dimension);
  }

  /** Lets go of the model; sessions and embedders made from it keep it until they close. */
  close() {
    native.closeModel(this._handle);
  }
}

/**
 * A reply being generated: `await` it for the whole answer, or `for await` it for the text as
 * it comes. Leaving the loop early, reply.cancel() or the AbortSignal of its options stop the
 * generation. `reply.result` resolves with { text, finishReason, usage } (and `message` for
 * chat).
 */
class Reply {
  constructor(start, finish, signal) {
    this._start = start;     // (onChunk) -> Promise<native stats>, queued on the session
    this._finish = finish;   // (text, stats) -> the value `await reply` gives
    this._signal = signal;
    this._chunks = [];
    this._wake = null;
    this._text = "";
    this._cancelled = false;
    this._promise = null;
  }

  _run() {
    if (this._promise) return this._promise;
    const signal = this._signal;
    if (signal?.aborted) {
      this._promise = Promise.reject(signal.reason);
    } else {
      const onAbort = () => this.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      this._promise = this._start((chunk) => {
        this._text += chunk;
        this._chunks.push(chunk);
        this._notify();
      }).then((stats) => {
        if (signal?.aborted) throw signal.reason;
        return this._finish(this._text, stats);
      }, (error) => {
        throw signal?.aborted ? signal.reason : error;
      }).finally(() => {
        signal?.removeEventListener("abort", onAbort);
        this._ended = true;
        this._notify();
      });
    }
    this._promise.catch(() => {});  // surfaced through then() or the iterator
    return this._promise;
  }

  _notify() {
    const wake = this._wake;
    this._wake = null;
    if (wake) wake();
  }

  get result() {
    return this._run();
  }

  then(onFulfilled, onRejected) {
    return this._run().then((r) => r.value).then(onFulfilled, onRejected);
  }

  catch(onRejected) {
    return this.then(undefined, onRejected);
  }

  /** Stops the generation soon; the reply ends with the text so far ("cancelled"). */
  cancel() {
    this._cancelled = true;
    this._cancel?.();
  }

  [Symbol.asyncIterator]() {
    const promise = this._run();
    return {
      next: async () => {
        for (;;) {
          if (this._chunks.length > 0) return { value: this._chunks.shift(), done: false };
          if (this._ended) {
            await promise;  // throws the generation's error, if any
            return { value: undefined, done: true };
          }
          await new Promise((resolve) => { this._wake = resolve; });
        }
      },
      return: async () => {
        if (!this._ended) this.cancel();
        await promise.catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }
}

class Session {
  constructor(model, handle, options) {
    this.model = model;
    this._handle = handle;
    this._queue = Promise.resolve();
    this._template = options.chatTemplate ?? null;
    this._defaults = pick(options, SAMPLING_KEYS);
    /** The conversation so far, as OpenAI chat messages (prompt() adds to it). */
    this.history = options.systemPrompt
      ? [{ role: "system", content: options.systemPrompt }] : [];
  }

  get contextSize() {
    return native.sessionInfo(this._handle).nCtx;
  }

  // Runs one job after the previous ones: the C session takes one call at a time.
  _enqueue(job) {
    const run = this._queue.then(job, job);
    this._queue = run.catch(() => {});
    return run;
  }

  _reply(text, options, { chatTemplate, finish }) {
    checkKeys(options, REPLY_KEYS, "reply options");
    const sampling = { ...this._defaults, ...pick(options, SAMPLING_KEYS) };
    if (sampling.seed === undefined) sampling.seed = randomSeed();
    const request = {
      prompt: text,
      sampling,
      maxTokens: options.maxTokens ?? -1,
      stop: options.stop === undefined ? [] : [].concat(options.stop),
      grammar: options.grammar ?? null,
      jsonSchema: options.jsonSchema === undefined ? null
        : (typeof options.jsonSchema === "string" ? options.jsonSchema
                                                   : JSON.stringify(options.jsonSchema)),
      chatTemplate,
    };
    const handle = this._handle;
    // The reply's own flag: a cancel() that comes before the engine starts the job stops it too.
    const cancelFlag = native.newCancel();
    let reply;
    const start = (onChunk) => this._enqueue(() => {
      if (reply._cancelled) return { stopReason: 4, promptTokens: 0, generatedTokens: 0 };
      return native.generate(handle, request, (chunk) => {
        options.onTextChunk?.(chunk);
        onChunk(chunk);
      }, cancelFlag).catch((error) => {
        // Cancelled while it read its prompt: a reply that ends before its first token.
        if (reply._cancelled && error.code === "EMBER_ERROR_CANCELLED") {
          return { stopReason: 4, promptTokens: 0, generatedTokens: 0 };
        }
        throw error;
      });
    });
    reply = new Reply(start, (out, stats) => {
      const result = {
        text: out,
        finishReason: FINISH[stats.stopReason] ?? "stop",
        usage: { promptTokens: stats.promptTokens, completionTokens: stats.generatedTokens,
                 totalTokens: stats.promptTokens + stats.generatedTokens },
      };
      return finish(result);
    }, options.signal);
    reply._cancel = () => native.raiseCancel(cancelFlag);
    return reply;
  }

  /**
   * Raw text completion: the reply continues `text` (no chat template). Stateless: the session
   * evaluates only what `text` does not share with what it held (its cache is reused).
   * options: maxTokens (default: until the context is full), stop (a string or a list),
   * grammar (GBNF), jsonSchema (an object or its JSON text), signal (AbortSignal),
   * onTextChunk, and the sampling options.
   */
  complete(text, options = {}) {
    return this._reply(text, options, {
      chatTemplate: null,
      finish: (result) => ({ ...result, value: result.text }),
    });
  }

  /**
   * A reply to OpenAI chat messages, formatted with the model's chat template; `await` gives
   * the assistant's message: { role, content, reasoningContent?, toolCalls? }.
   * options: tools (OpenAI function tools), templateVariables (e.g. { enable_thinking: false }),
   * and those of complete().
   */
  chat(messages, options = {}) {
    const { tools, templateVariables, ...rest } = options;
    const prompt = native.formatChat(
      this.model._handle, this._template, JSON.stringify(messages),
      tools && tools.length ? JSON.stringify(tools) : null,
      templateVariables ? JSON.stringify(templateVariables) : null);
    return this._reply(prompt, rest, {
      chatTemplate: this._template ?? "",
      finish: (result) => {
        const parsed = JSON.parse(native.parseReply(this.model._handle, this._template, prompt,
                                                    result.text));
        const message = { role: "assistant", content: parsed.content };
        if (parsed.reasoning_content !== undefined) {
          message.reasoningContent = parsed.reasoning_content;
        }
        if (parsed.tool_calls.length > 0) {
          message.toolCalls = parsed.tool_calls.map((c) => ({
            id: "call_" + crypto.randomBytes(12).toString("hex"),
            type: "function",
            function: { name: c.name, arguments: JSON.stringify(c.arguments) },
          }));
          result.finishReason = "tool_calls";
        }
        return { ...result, message, value: message };
      },
    });
  }

  /**
   * The next turn of this session's conversation: `text` as the user's message after
   * `history`; `await` gives the assistant's text, which joins the history.
   */
  prompt(text, options = {}) {
    const messages = [...this.history, { role: "user", content: text }];
    const reply = this.chat(messages, options);
    const finish = reply._finish;
    reply._finish = (out, stats) => {
      const result = finish(out, stats);
      this.history = [...messages, { role: "assistant", content: result.message.content ?? "",
                                     ...(result.message.toolCalls
                                       ? { tool_calls: result.message.toolCalls } : {}) }];
      return { ...result, value: result.message.content };
    };
    return reply;
  }

  /** The whole state (tokens, cache, sampler) as a Buffer, after the calls before it. */
  saveState() {
    return this._enqueue(() => native.saveState(this._handle));
  }

  /** Restores saveState()'s Buffer (same model file and kvType). */
  loadState(state) {
    return this._enqueue(() => native.loadState(this._handle, state));
  }

  /** Cancels what runs and frees the session (its model lives on while others use it). */
  close() {
    native.closeSession(this._handle);
  }
}

class Embedder {
  constructor(handle, dimension) {
    this._handle = handle;
    this._queue = Promise.resolve();
    /** Floats per vector. */
    this.dimension = dimension;
  }

  /** A Float32Array for a text, or one per text for an array (in one batch). */
  async embed(input) {
    const texts = Array.isArray(input) ? input : [input];
    const run = this._queue.then(() => native.embed(this._handle, texts));
    this._queue = run.catch(() => {});
    const { vectors } = await run;
    return Array.isArray(input) ? vectors : vectors[0];
  }

  close() {
    native.closeEmbedder(this._handle);
  }
}

module.exports = { loadModel, Model, Session, Embedder, Reply, version: native.version };
