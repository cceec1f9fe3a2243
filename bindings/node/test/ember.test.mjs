// The Node binding against the engine's own answers (ember run's text, llama.cpp's embeddings,
// the C API's errors). Run by CTest (NodeBinding) with node --test: EMBER_NODE_ADDON names the
// built addon, EMBER_BIN the ember command, EMBER_DEFAULT_SHARED the models and references.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, before, after } from "node:test";
import { fileURLToPath } from "node:url";

import ember from "../index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const stories = path.join(root, "models", "stories260K.gguf");
const shared = process.env.EMBER_DEFAULT_SHARED ?? path.join(root, "..", "shared");
const emberBin = process.env.EMBER_BIN ?? path.join(root, "build", "bin", "ember");

function sharedFile(t, file) {
  const full = path.join(shared, file);
  if (!fs.existsSync(full)) t.skip(`${full} is not there`);
  return fs.existsSync(full) ? full : null;
}

function emberRun(...args) {
  return execFileSync(emberBin, ["run", ...args], { stdio: ["ignore", "pipe", "ignore"] })
    .toString("utf8");
}

let model;
let session;
before(async () => {
  model = await ember.loadModel({ modelPath: stories });
  session = await model.createSession({ contextSize: 512 });
});
after(() => {
  session.close();
  model.close();
});

test("a completion is ember run's text", async () => {
  const text = await session.complete("Once upon a time", { maxTokens: 20, temperature: 0 });
  assert.equal(text, emberRun("-m", stories, "-p", "Once upon a time", "-n", "20", "--temp", "0"));
  const sampled = await session.complete("Once upon a time",
                                         { maxTokens: 30, temperature: 0.9, seed: 7 });
  assert.equal(sampled, emberRun("-m", stories, "-p", "Once upon a time", "-n", "30", "--temp",
                                 "0.9", "--seed", "7"));
});

test("streaming gives the same text in pieces, and the result's counts", async () => {
  const whole = await session.complete("Once upon a time", { maxTokens: 30, temperature: 0 });
  const reply = session.complete("Once upon a time", { maxTokens: 30, temperature: 0 });
  const chunks = [];
  for await (const chunk of reply) chunks.push(chunk);
  assert.ok(chunks.length > 10);
  assert.equal(chunks.join(""), whole);
  const result = await reply.result;
  assert.equal(result.finishReason, "length");
  assert.equal(result.usage.completionTokens, 30);
  assert.equal(result.usage.promptTokens, model.tokenize("Once upon a time").length);
});

test("generation runs off the event loop", async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const reply = session.complete("Once upon a time", { maxTokens: 400, temperature: 0 });
  let chunks = 0;
  for await (const _ of reply) chunks++;  // eslint-disable-line no-unused-vars
  clearInterval(timer);
  assert.ok(chunks > 100);
  assert.ok(ticks > 3, `the event loop ticked ${ticks} times`);
});

test("leaving the loop, cancel() and an AbortSignal stop the generation", async () => {
  const expected = emberRun("-m", stories, "-p", "Once upon a time", "-n", "20", "--temp", "0");
  const reply = session.complete("Once upon a time", { temperature: 0 });  // to a full context
  let n = 0;
  for await (const _ of reply) if (++n === 3) break;  // eslint-disable-line no-unused-vars
  const broken = await reply.result;
  assert.equal(broken.finishReason, "cancelled");
  // The engine runs at most 16 chunks ahead of the loop (addon.cpp, kAhead): the break stops
  // it within that many tokens of the third, however busy this machine.
  assert.ok(broken.usage.completionTokens <= 3 + 16 + 1,
            `${broken.usage.completionTokens} tokens`);

  // A whole context takes this model some 20 ms: the stops come at once, not after a delay
  // that could outlast the reply.
  const controller = new AbortController();
  const aborted = session.complete("Once upon a time", { temperature: 0,
                                                         signal: controller.signal });
  setTimeout(() => controller.abort(), 1);
  await assert.rejects(aborted, { name: "AbortError" });

  // One cancel, one turn of the event loop after the job went to the engine: whether the
  // engine has started it yet or not, the reply stops.
  for (let i = 0; i < 10; ++i) {
    const cancelled = session.complete("Once upon a time", { temperature: 0 });
    const pending = cancelled.result;
    await new Promise((resolve) => setImmediate(resolve));
    cancelled.cancel();
    const partial = await pending;
    assert.equal(partial.finishReason, "cancelled", `reply ${i}`);
    assert.ok(partial.usage.completionTokens < session.contextSize);
  }
  // The session goes on whole.
  assert.equal(await session.complete("Once upon a time", { maxTokens: 20, temperature: 0 }),
               expected);
});

test("calls queue on a session, in order", async () => {
  const replies = [1, 2, 3].map((n) => session.complete("Once upon a time",
                                                        { maxTokens: 5 * n, temperature: 0 }));
  const texts = await Promise.all(replies);
  assert.ok(texts[0].length < texts[1].length && texts[1].length < texts[2].length);
  assert.ok(texts[2].startsWith(texts[1]) && texts[1].startsWith(texts[0]));
});

test("a JSON schema makes the reply valid JSON under it", async () => {
  const schema = {
    type: "object",
    properties: { name: { type: "string", maxLength: 12 },
                  age: { type: "integer", minimum: 0, maximum: 99 } },
    required: ["name", "age"], additionalProperties: false,
  };
  const reply = session.complete("Once upon a time", { maxTokens: 100, temperature: 0.8,
                                                       seed: 3, jsonSchema: schema });
  const value = JSON.parse(await reply);
  assert.deepEqual(Object.keys(value).sort(), ["age", "name"]);
  assert.ok(value.name.length <= 12 && Number.isInteger(value.age));
  assert.equal((await reply.result).finishReason, "stop");
});

test("errors carry ember's message and code", async () => {
  await assert.rejects(ember.loadModel({ modelPath: "/nonexistent/model.gguf" }),
                       { code: "EMBER_ERROR_FILE", message: /\/nonexistent\/model\.gguf/ });
  await assert.rejects(session.complete("Once", { maxTokens: 5, grammar: "root ::= (" }),
                       { code: "EMBER_ERROR_INVALID_ARGUMENT", message: /grammar.*line 1/ });
  assert.throws(() => session.complete("Once", { logprobs: 2 }), /unknown option "logprobs"/);
  // Values that cross as C strings: a NUL would cut them short, so it is refused.
  await assert.rejects(session.complete("Once", { stop: ["a\0b"] }), /stop contains a NUL/);
  const embedder = await model.createEmbedder();
  await assert.rejects(embedder.embed("a\0b"), /text contains a NUL/);
  embedder.close();
  assert.equal((await session.complete("Once\0upon", { maxTokens: 2, temperature: 0 }).result)
    .usage.completionTokens, 2);
  await assert.rejects(model.createSession({ nGpuLayers: 1 }), /unknown option/);
  const small = await model.createSession({ contextSize: 32 });
  await assert.rejects(small.complete("Once upon a time ".repeat(20), { maxTokens: 5 }),
                       { code: "EMBER_ERROR_CONTEXT_FULL" });
  small.close();
  await assert.rejects(small.complete("Once"), /closed/);
  await assert.rejects(model.createSession({ temperature: Number.NaN }),
                       { code: "EMBER_ERROR_INVALID_ARGUMENT" });
});

test("a saved state restores into another session", async () => {
  await session.complete("Once upon a time", { maxTokens: 10, temperature: 0 });
  const state = await session.saveState();
  const other = await model.createSession({ contextSize: 512 });
  await other.loadState(state);
  assert.deepEqual(await other.saveState(), state);
  await assert.rejects(other.loadState(state.subarray(0, 100)), { code: "EMBER_ERROR_FORMAT" });
  other.close();
});

test("chat: ember run --chat's reply, and the history of prompt()", async (t) => {
  const file = sharedFile(t, "arch2/models/mini-qwen3-Q8_0.gguf");
  if (!file) return;
  const qwen = await ember.loadModel({ modelPath: file });
  const chat = await qwen.createSession({ contextSize: 512, systemPrompt: "Be brief." });
  const expected = emberRun("-m", file, "--chat", "--system", "Be brief.", "-p", "Hi there",
                            "-n", "30", "--temp", "0");
  const streamed = [];
  for await (const c of chat.chat([{ role: "system", content: "Be brief." },
                                   { role: "user", content: "Hi there" }],
                                  { maxTokens: 30, temperature: 0 })) streamed.push(c);
  assert.equal(streamed.join(""), expected);
  const answer = await chat.prompt("Hi there", { maxTokens: 30, temperature: 0 });
  assert.equal(answer, expected);
  assert.deepEqual(chat.history.map((m) => m.role), ["system", "user", "assistant"]);
  const second = await chat.prompt("And then?", { maxTokens: 10, temperature: 0 });
  assert.equal(typeof second, "string");
  assert.equal(chat.history.length, 5);
  chat.close();
  qwen.close();
});

test("tool calls come back as OpenAI tool calls", async (t) => {
  const file = sharedFile(t, "arch2/models/mini-qwen3-Q8_0.gguf");
  const templateFile = sharedFile(t, "templates/templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  if (!file || !templateFile) return;
  const qwen = await ember.loadModel({ modelPath: file });
  const chat = await qwen.createSession({ contextSize: 1024,
                                          chatTemplate: fs.readFileSync(templateFile, "utf8") });
  const tools = [{ type: "function", function: {
    name: "get_weather", description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } },
                  required: ["city"] } } }];
  const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
  const reply = chat.chat([{ role: "user", content: "Weather in Paris?" }],
                          { tools, grammar: `root ::= ${JSON.stringify(call)}`, maxTokens: 60,
                            temperature: 0 });
  const message = await reply;
  assert.equal((await reply.result).finishReason, "tool_calls");
  assert.equal(message.toolCalls.length, 1);
  assert.equal(message.toolCalls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(message.toolCalls[0].function.arguments), { city: "Paris" });
  chat.close();
  qwen.close();
});

test("embeddings are llama.cpp's", async (t) => {
  const file = sharedFile(t, "arch/models/mini-bert-F16.gguf");
  const refFile = sharedFile(t, "arch/reference/mini-bert-F16.json");
  if (!file || !refFile) return;
  const reference = JSON.parse(fs.readFileSync(refFile, "utf8"));
  const raw = fs.readFileSync(sharedFile(t, "arch/reference/mini-bert-F16.embd.f32"));
  const want = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const bert = await ember.loadModel({ modelPath: file });
  const embedder = await bert.createEmbedder();
  const vectors = await embedder.embed(reference.texts);
  const dim = embedder.dimension;
  assert.equal(vectors.length, reference.texts.length);
  vectors.forEach((v, i) => {
    const ref = want.subarray(i * dim, (i + 1) * dim);
    const norm = Math.hypot(...ref);
    const cosine = v.reduce((sum, x, j) => sum + x * ref[j] / norm, 0);
    assert.ok(cosine > 0.999, `text ${i}: cosine ${cosine}`);
  });
  const one = await embedder.embed(reference.texts[0]);
  assert.ok(one instanceof Float32Array && one.length === dim);
  await assert.rejects(bert.createSession(), /encoder/);
  embedder.close();
  bert.close();
});

function rssKiB() {
  return Math.round(process.memoryUsage().rss / 1024);
}

test("a thousand models, sessions and embedders come and go without growing", async () => {
  const round = async () => {
    const m = await ember.loadModel({ modelPath: stories });
    const s = await m.createSession({ contextSize: 64 });
    await s.complete("Once", { maxTokens: 2, temperature: 0 });
    const e = await m.createEmbedder({ contextSize: 64 });
    await e.embed("Once");
    e.close();
    s.close();
    m.close();
  };
  // The first thousand rounds grow the heaps to their working size (the worker threads' malloc
  // arenas, V8's heap: some 5 MB, then flat); a leak goes on growing after them.
  for (let i = 0; i < 1000; i++) await round();
  const before = rssKiB();
  for (let i = 0; i < 1000; i++) await round();
  const grown = rssKiB() - before;
  assert.ok(grown < 8192, `RSS grew ${grown} KiB over 1000 rounds`);
});

test("the README's example runs from a package folder", async () => {
  const readme = fs.readFileSync(path.join(here, "..", "README.md"), "utf8");
  const example = readme.match(/```js\n([\s\S]*?)```/)[1];
  assert.ok(example.trim().split("\n").length <= 10);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ember-node-"));
  try {
    fs.mkdirSync(path.join(dir, "node_modules"));
    fs.symlinkSync(path.join(here, ".."), path.join(dir, "node_modules", "ember-llm"));
    fs.writeFileSync(path.join(dir, "example.mjs"), example);
    const out = execFileSync(process.execPath, [path.join(dir, "example.mjs")], { cwd: root })
      .toString("utf8");
    const story = emberRun("-m", stories, "-p", "Once upon a time", "-n", "20", "--temp", "0");
    assert.equal(out.split("\n")[0], story);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the type declarations (index.d.ts) accept typed use", (t) => {
  const tsc = path.join(here, "..", "node_modules", "typescript", "bin", "tsc");
  if (!fs.existsSync(tsc)) return t.skip("typescript is not installed (npm ci in bindings/node)");
  execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module",
                                  "nodenext", "--moduleResolution", "nodenext", "--lib",
                                  "es2022,dom", path.join(here, "types.ts")],
               { stdio: "inherit" });
});

