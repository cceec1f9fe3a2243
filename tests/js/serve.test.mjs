// `ember serve` against real clients: the official openai npm client, curl for the SSE framing,
// fetch for ollama's NDJSON; 16 concurrent clients; disconnects, a full queue, SIGTERM; two
// servers behind nginx with one killed under load.
//
// Environment: EMBER_BIN (the ember binary), EMBER_SOURCE (the repository: its bundled model),
// EMBER_SHARED or EMBER_DEFAULT_SHARED (../shared: a larger model for work that must take a
// while). Run by CTest (tests/CMakeLists.txt) after `npm ci` here (scripts/install-deps.sh).
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

import OpenAI from "openai";

import { client, ember, freePort, metric, shared, slow, startServer, tiny, until } from "./serve_helpers.mjs";

const greedy = { temperature: 0, max_tokens: 24 };

test("openai client: chat and completions, streaming and not", async () => {
  const server = await startServer(["-m", tiny, "-np", "4", "-c", "512"]);
  const openai = client(server);
  const messages = [{ role: "user", content: "Tell me a story about a cat." }];

  const chat = await openai.chat.completions.create({ model: "stories260K", messages, ...greedy });
  assert.equal(chat.object, "chat.completion");
  assert.equal(chat.choices.length, 1);
  assert.equal(chat.choices[0].message.role, "assistant");
  assert.equal(chat.choices[0].finish_reason, "length");
  assert.equal(chat.usage.completion_tokens, 24);
  assert.ok(chat.usage.prompt_tokens > 5);
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + 24);
  const text = chat.choices[0].message.content;
  assert.ok(text.length > 10, text);

  const stream = await openai.chat.completions.create({
    model: "stories260K",
    messages,
    ...greedy,
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  const streamed = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(streamed, text);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  assert.equal(chunks.at(-2).choices[0].finish_reason, "length");
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.equal(chunks.at(-1).usage.completion_tokens, 24);

  const prompt = "Once upon a time";
  const completion = await openai.completions.create({ model: "stories260K", prompt, ...greedy });
  assert.equal(completion.object, "text_completion");
  const completionText = completion.choices[0].text;
  let streamedCompletion = "";
  for await (const c of await openai.completions.create({ model: "x", prompt, ...greedy, stream: true })) {
    streamedCompletion += c.choices[0]?.text ?? "";
  }
  assert.equal(streamedCompletion, completionText);

  // A stop string ends the text before it.
  const at = completionText.indexOf(" was");
  assert.ok(at > 0, completionText);
  const stopped = await openai.completions.create({ model: "x", prompt, ...greedy, stop: [" was"] });
  assert.equal(stopped.choices[0].text, completionText.slice(0, at));
  assert.equal(stopped.choices[0].finish_reason, "stop");

  // The next turn of a chat reuses the slot's cache.
  const next = await openai.chat.completions.create({
    model: "x",
    messages: [...messages, { role: "assistant", content: text }, { role: "user", content: "More." }],
    ...greedy,
  });
  assert.ok(next.usage.prompt_tokens_details.cached_tokens >= chat.usage.prompt_tokens - 1);

  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["stories260K"]);

  // n choices, as the client reads them.
  const two = await openai.chat.completions.create({ model: "stories260K", messages, n: 2, max_tokens: 4, seed: 3 });
  assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
  assert.equal(two.usage.completion_tokens, 8);

  // Errors in OpenAI's shape, as the client's error classes.
  await assert.rejects(openai.chat.completions.create({ model: "x", messages, n: 17 }), (e) => {
    assert.equal(e.status, 400);
    assert.match(e.message, /'n'/);
    return true;
  });
  await assert.rejects(openai.chat.completions.create({ model: "x", messages: [] }), { status: 400 });
  await assert.rejects(
    openai.completions.create({ model: "x", prompt: "a ".repeat(1000), max_tokens: 1 }),
    (e) => e.status === 400 && e.code === "context_length_exceeded",
  );
  const bad = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: "{nope" });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /not valid JSON/);
  const nowhere = await fetch(`${server.url}/v1/nowhere`);
  assert.equal(nowhere.status, 404);
  assert.ok((await nowhere.json()).error.message);
});

test("openai client: embeddings, as floats and base64", async () => {
  const server = await startServer(["-m", tiny]);
  const openai = client(server);
  const input = ["The cat sat on the mat.", "Stock markets fell."];
  // The client asks for base64 unless told otherwise, and decodes it.
  const b64 = await openai.embeddings.create({ model: "x", input });
  const floats = await openai.embeddings.create({ model: "x", input, encoding_format: "float" });
  assert.equal(b64.data.length, 2);
  for (let i = 0; i < 2; ++i) {
    const v = floats.data[i].embedding;
    assert.equal(b64.data[i].index, i);
    assert.equal(v.length, b64.data[i].embedding.length);
    for (let j = 0; j < v.length; ++j) assert.ok(Math.abs(v[j] - b64.data[i].embedding[j]) < 1e-6);
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  }
  assert.ok(floats.usage.prompt_tokens > 4);
});

test("a wrong API key is refused; /health stays open", async () => {
  const server = await startServer(["-m", tiny, "--api-key", "sesame"]);
  await assert.rejects(
    client(server, "wrong").chat.completions.create({ model: "x", messages: [{ role: "user", content: "hi" }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
  const ok = await client(server, "sesame").completions.create({ model: "x", prompt: "Once", max_tokens: 3 });
  assert.equal(ok.usage.completion_tokens, 3);
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  assert.equal((await fetch(`${server.url}/v1/models`)).status, 401);
});

// One request on a keep-alive connection: resolves with the status and whether the socket was
// one reused from an earlier request.
function keepAliveRequest(agent, port, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/v1/completions", method: "POST",
      agent, headers: { "Content-Type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, reused: req.reusedSocket }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

test("a keep-alive connection idle longer than clients' usual 5 s is reused safely", async () => {
  const server = await startServer(["-m", tiny]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, timeout: 60000 });
  const body = { prompt: "Once", max_tokens: 4 };
  assert.equal((await keepAliveRequest(agent, server.port, body)).status, 200);
  await new Promise((r) => setTimeout(r, 6000));
  const second = await keepAliveRequest(agent, server.port, body);
  assert.equal(second.status, 200);
  assert.equal(second.reused, true);
  agent.destroy();
});

test("a second server on a port in use fails to start, saying so", async () => {
  const server = await startServer(["-m", tiny]);
  const second = spawn(ember, ["serve", "-m", tiny, "--port", String(server.port)], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  second.stderr.on("data", (d) => (err += d));
  const code = await new Promise((resolve) => second.on("exit", resolve));
  assert.equal(code, 1);
  assert.match(err, /cannot listen on 127\.0\.0\.1:\d+/);
});

test("server-sent events framed as OpenAI's (curl)", async () => {
  const server = await startServer(["-m", tiny]);
  const body = JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: 8, stream: true });
  const { stdout } = await promisify(execFile)("curl", ["-sN", "-H", "Content-Type: application/json",
    "-d", body, `${server.url}/v1/chat/completions`]);
  assert.ok(stdout.endsWith("data: [DONE]\n\n"), JSON.stringify(stdout.slice(-40)));
  const events = stdout.split("\n\n").slice(0, -1);
  assert.ok(events.length >= 3);
  for (const e of events.slice(0, -1)) {
    assert.ok(e.startsWith("data: ") && !e.slice(6).includes("\n"), JSON.stringify(e));
    const chunk = JSON.parse(e.slice(6));
    assert.equal(chunk.object, "chat.completion.chunk");
  }
  const finishes = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0].finish_reason);
  assert.deepEqual(finishes.filter((f) => f !== null), ["length"]);
  assert.equal(finishes.at(-1), "length");
});

test("16 concurrent clients: no reply lost, duplicated or garbled; greedy replies equal serial ones", async () => {
  const server = await startServer(["-m", tiny, "-np", "4", "-c", "256"]);
  const openai = client(server);
  const subjects = ["a cat", "a dog", "a bird", "the sea", "a king", "a tree", "the moon", "a boy",
    "a girl", "a car", "a cake", "a ball", "a fish", "a frog", "the sun", "a bear"];
  const prompt = (c, r) => `Once upon a time there was ${subjects[c]} who wanted ${r + 1} friends.`;
  const ask = async (c, r, stream) => {
    const request = { model: "x", prompt: prompt(c, r), temperature: 0, max_tokens: 16 + 4 * r };
    if (!stream) return (await openai.completions.create(request)).choices[0].text;
    let text = "";
    for await (const chunk of await openai.completions.create({ ...request, stream: true })) {
      text += chunk.choices[0]?.text ?? "";
    }
    return text;
  };
  const serial = new Map();
  for (let c = 0; c < 16; ++c) for (let r = 0; r < 3; ++r) serial.set(`${c}/${r}`, await ask(c, r, false));
  const concurrent = new Map();
  await Promise.all(Array.from({ length: 16 }, async (_, c) => {
    for (let r = 0; r < 3; ++r) concurrent.set(`${c}/${r}`, await ask(c, r, (c + r) % 2 === 0));
  }));
  assert.equal(concurrent.size, 48);
  for (const [key, text] of serial) assert.equal(concurrent.get(key), text, key);
  assert.equal(await metric(server, "ember_slots_busy"), 0);
});

test("a client that disconnects cancels its work, during the prompt and during generation", async () => {
  const server = await startServer(["-m", slow, "-np", "1", "-c", "8192"]);
  // A prompt of ~7000 tokens takes seconds on one thread: leave after 300 ms.
  const long = "Once upon a time there was a cat. ".repeat(700);
  const abort = new AbortController();
  const pending = fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: long, max_tokens: 4 }),
    signal: abort.signal,
  });
  setTimeout(() => abort.abort(), 300);
  await assert.rejects(pending);
  assert.ok(await until(async () => (await metric(server, "ember_client_disconnects_total")) === 1));
  assert.ok(await until(async () => (await metric(server, "ember_slots_busy")) === 0));
  const evaluated = await metric(server, "ember_prompt_tokens_total");
  assert.ok(evaluated < 6000, `evaluated ${evaluated} prompt tokens after the client left`);

  // Streaming: leave after the first text.
  const abort2 = new AbortController();
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 8000, stream: true }),
    signal: abort2.signal,
  });
  const reader = response.body.getReader();
  await reader.read();
  abort2.abort();
  assert.ok(await until(async () => (await metric(server, "ember_client_disconnects_total")) === 2));
  assert.ok(await until(async () => (await metric(server, "ember_slots_busy")) === 0));
  const generated = await metric(server, "ember_generated_tokens_total");
  assert.ok(generated < 8000, `generated ${generated} tokens for a client that left`);
});

test("a full queue answers 503 with Retry-After", async () => {
  const server = await startServer(["-m", slow, "-np", "1", "--queue", "0", "-c", "4096"]);
  const abort = new AbortController();
  const first = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 4000, stream: true }),
    signal: abort.signal,
  });
  await first.body.getReader().read();  // it holds the only slot
  const second = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 4 }),
  });
  assert.equal(second.status, 503);
  assert.ok(Number(second.headers.get("retry-after")) >= 1);
  assert.equal((await second.json()).error.code, "server_busy");
  abort.abort();
  // A body past --max-body is refused with 413.
  const small = await startServer(["-m", tiny, "--max-body", "1024"]);
  const big = await fetch(`${small.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "x".repeat(5000) }),
  });
  assert.equal(big.status, 413);
});

test("SIGTERM: in-flight requests finish, new ones get 503, exit status 0", async () => {
  const server = await startServer(["-m", slow, "-c", "4096", "--shutdown-timeout", "60"]);
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 1500, temperature: 0, stream: true }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value);
  const exited = new Promise((resolve) => server.proc.on("exit", resolve));
  server.proc.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 100));
  const late = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 4 }),
  });
  assert.equal(late.status, 503);
  assert.equal((await fetch(`${server.url}/health`)).status, 503);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  assert.ok(text.endsWith("data: [DONE]\n\n"), text.slice(-200));
  assert.match(text, /"finish_reason":"length"/);
  assert.equal(await exited, 0);
  await assert.rejects(fetch(`${server.url}/health`));
});

test("structured output: response_format json_schema and json_object, ollama's format, grammar", async () => {
  const server = await startServer(["-m", tiny, "-np", "2", "-c", "512"]);
  const openai = client(server);
  const messages = [{ role: "user", content: "Describe a cat as JSON." }];
  const schema = {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 12 },
      age: { type: "integer", minimum: 0, maximum: 20 },
      mood: { enum: ["happy", "sleepy", "hungry"] },
    },
    required: ["name", "age", "mood"],
    additionalProperties: false,
  };
  const valid = (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) &&
    Object.keys(v).sort().join() === "age,mood,name" &&
    typeof v.name === "string" && [...v.name].length >= 1 && [...v.name].length <= 12 &&
    Number.isInteger(v.age) && v.age >= 0 && v.age <= 20 &&
    ["happy", "sleepy", "hungry"].includes(v.mood);
  for (let seed = 1; seed <= 4; seed++) {
    const chat = await openai.chat.completions.create({
      model: "stories260K", messages, temperature: 1, seed, max_tokens: 300,
      response_format: { type: "json_schema", json_schema: { name: "cat", schema, strict: true } },
    });
    const text = chat.choices[0].message.content;
    assert.equal(chat.choices[0].finish_reason, "stop", text);
    assert.ok(valid(JSON.parse(text)), text);
  }
  // Streaming gives the same text.
  const request = { model: "stories260K", messages, temperature: 1, seed: 9, max_tokens: 300,
    response_format: { type: "json_schema", json_schema: { name: "cat", schema } } };
  const whole = (await openai.chat.completions.create(request)).choices[0].message.content;
  let streamed = "";
  for await (const c of await openai.chat.completions.create({ ...request, stream: true })) {
    streamed += c.choices[0]?.delta?.content ?? "";
  }
  assert.equal(streamed, whole);

  const object = await openai.completions.create({
    model: "stories260K", prompt: "{", temperature: 0.8, seed: 3, max_tokens: 400,
    response_format: { type: "json_object" },
  });
  if (object.choices[0].finish_reason === "stop") {
    const parsed = JSON.parse(object.choices[0].text);
    assert.ok(parsed !== null && typeof parsed === "object" && !Array.isArray(parsed));
  } else {
    assert.equal(object.choices[0].finish_reason, "length");
  }

  // A grammar that cannot finish inside max_tokens ends with "length"; a GBNF "grammar" field.
  const long = await openai.completions.create({
    model: "stories260K", prompt: "Once", max_tokens: 8, grammar: 'root ::= [a-z ]{200} "."',
  });
  assert.equal(long.choices[0].finish_reason, "length");
  assert.match(long.choices[0].text, /^[a-z ]+$/);

  // What ember cannot honour is a 400 saying why, never ignored.
  await assert.rejects(
    openai.chat.completions.create({ model: "x", messages, response_format: {
      type: "json_schema", json_schema: { name: "n", schema: { type: "number", multipleOf: 3 } } } }),
    (e) => e.status === 400 && /multipleOf/.test(e.message));
  await assert.rejects(
    openai.chat.completions.create({ model: "x", messages, response_format: { type: "yaml" } }),
    (e) => e.status === 400 && /yaml/.test(e.message));
  await assert.rejects(
    openai.completions.create({ model: "x", prompt: "a", grammar: "root ::= (" }),
    (e) => e.status === 400 && /line 1, column/.test(e.message));

  // ollama: format "json" and a schema.
  const ollama = async (format) => (await fetch(`${server.url}/api/generate`, {
    method: "POST",
    body: JSON.stringify({ model: "tiny", prompt: "A cat:", raw: true, stream: false, format,
      options: { temperature: 1, seed: 5, num_predict: 300 } }),
  }));
  const withSchema = await (await ollama(schema)).json();
  assert.equal(withSchema.done_reason, "stop", withSchema.response);
  assert.ok(valid(JSON.parse(withSchema.response)), withSchema.response);
  const json = await (await ollama("json")).json();
  if (json.done_reason === "stop") assert.equal(typeof JSON.parse(json.response), "object");
  const bad = await ollama("xml");
  assert.equal(bad.status, 400);
});

// Tool calling with the official client: tools -> tool_calls -> a tool message -> an answer,
// streamed and not, through a Qwen (Hermes), a Llama 3.1 and a Mistral template set on the tiny
// model; tool_choice "required" holds its reply to a call of the function's schema.
test("openai client: tool-calling round trip for Qwen, Llama 3 and Mistral templates", async () => {
  const templates = `${shared}/templates/templates`;
  const tools = [{
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", minLength: 1, maxLength: 10 } },
        required: ["city"],
        additionalProperties: false,
      },
    },
  }];
  for (const name of ["Qwen-Qwen3-0.6B", "meta-llama-Llama-3.1-8B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407"]) {
    const server = await startServer(["-m", tiny, "-c", "2048", "--chat-template", `${templates}/${name}.jinja`]);
    const openai = client(server);
    const messages = [{ role: "user", content: "What is the weather in Paris?" }];
    const ask = { model: "stories260K", tools, tool_choice: "required", parallel_tool_calls: false, temperature: 0, max_tokens: 200 };

    const chat = await openai.chat.completions.create({ ...ask, messages });
    const choice = chat.choices[0];
    assert.equal(choice.finish_reason, "tool_calls", `${name}: ${JSON.stringify(choice)}`);
    assert.equal(choice.message.tool_calls.length, 1, name);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, "function");
    assert.equal(call.function.name, "get_weather");
    assert.match(call.id, /^[A-Za-z0-9]{9}$/);
    const args = JSON.parse(call.function.arguments);
    assert.deepEqual(Object.keys(args), ["city"], name);
    assert.ok(typeof args.city === "string" && [...args.city].length >= 1 && [...args.city].length <= 10, name);

    // Streamed: the call arrives as delta.tool_calls, the same call greedy gives.
    const stream = await openai.chat.completions.create({ ...ask, messages, stream: true });
    const deltas = [];
    let finish = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (c?.delta?.tool_calls) deltas.push(...c.delta.tool_calls);
      if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, "tool_calls", name);
    assert.equal(deltas.length, 1, name);
    assert.equal(deltas[0].index, 0);
    assert.equal(deltas[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(deltas[0].function.arguments), args, name);

    // The call and its result go back through the template; the model answers in text.
    const history = [
      ...messages,
      { role: "assistant", content: null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: JSON.stringify({ temperature: 21 }) },
    ];
    const answer = await openai.chat.completions.create({ model: "stories260K", tools, messages: history, temperature: 0, max_tokens: 12 });
    assert.ok(["stop", "length", "tool_calls"].includes(answer.choices[0].finish_reason), name);
    assert.ok(answer.usage.prompt_tokens > chat.usage.prompt_tokens, name);
    const streamed = await openai.chat.completions.create({ model: "stories260K", tools, messages: history, temperature: 0, max_tokens: 12, stream: true });
    for await (const chunk of streamed) void chunk;
  }
  // A model whose chat format is a built-in one cannot show tools: said so.
  const plain = await startServer(["-m", tiny, "-c", "512"]);
  await assert.rejects(
    client(plain).chat.completions.create({ model: "stories260K", tools, messages: [{ role: "user", content: "hi" }] }),
    (e) => e.status === 400 && /no chat template that shows tools/.test(e.message));
});

// Thinking apart from the answer: a Qwen3 template's <think> block comes back as
// reasoning_content (whole and streamed); chat_template_kwargs reach the template.
test("openai client: reasoning_content for a Qwen3 template; chat_template_kwargs", async () => {
  const server = await startServer(["-m", tiny, "-c", "2048", "--chat-template", `${shared}/templates/templates/Qwen-Qwen3-0.6B.jinja`]);
  const openai = client(server);
  const ask = {
    model: "stories260K", temperature: 0, max_tokens: 60,
    messages: [{ role: "user", content: "Think, then answer." }],
    // (the tiny model would not think by itself: a grammar makes it)
    grammar: 'root ::= "<think>\\n" [a-z ]{3,12} "\\n</think>\\n\\n" [a-z ]{2,8}',
  };
  const chat = await openai.chat.completions.create(ask);
  const message = chat.choices[0].message;
  assert.match(message.reasoning_content, /^[a-z ]{3,12}$/, JSON.stringify(message));
  assert.match(message.content, /^[a-z ]{2,8}$/, JSON.stringify(message));
  const stream = await openai.chat.completions.create({ ...ask, stream: true });
  let reasoning = "", content = "";
  for await (const chunk of stream) {
    reasoning += chunk.choices[0]?.delta?.reasoning_content ?? "";
    content += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.equal(reasoning, message.reasoning_content);
  assert.equal(content, message.content);
  // enable_thinking false: the template closes an empty think block in the prompt itself.
  const on = await openai.chat.completions.create({ ...ask, max_tokens: 1 });
  const off = await openai.chat.completions.create({ ...ask, max_tokens: 1, chat_template_kwargs: { enable_thinking: false } });
  assert.ok(off.usage.prompt_tokens > on.usage.prompt_tokens, `${off.usage.prompt_tokens} ${on.usage.prompt_tokens}`);
});

// The Responses API through the official client: text whole and streamed (the client's own
// event accumulator checks every event's order and place), a function call and its output sent
// back as items, thinking as a reasoning item, and what ember refuses.
test("openai client: the Responses API, text, tools and reasoning", async () => {
  const server = await startServer(["-m", tiny, "-c", "2048", "--chat-template", `${shared}/templates/templates/Qwen-Qwen3-0.6B.jinja`]);
  const openai = client(server);
  const ask = { model: "stories260K", temperature: 0, max_output_tokens: 16, instructions: "Tell stories.",
    input: "Once upon a time", reasoning: { effort: "low" } };
  const whole = await openai.responses.create(ask);
  assert.equal(whole.object, "response");
  assert.equal(whole.status, "incomplete");
  assert.equal(whole.incomplete_details.reason, "max_output_tokens");
  assert.equal(whole.usage.output_tokens, 16);
  assert.ok(whole.output_text.length > 5, JSON.stringify(whole));
  assert.equal(whole.output.at(-1).type, "message");

  const events = [];
  const stream = openai.responses.stream(ask);
  for await (const event of stream) events.push(event.type);
  const final = await stream.finalResponse();
  assert.equal(final.output_text, whole.output_text);
  assert.equal(events[0], "response.created");
  assert.equal(events.at(-1), "response.incomplete");
  assert.ok(events.includes("response.output_text.delta"), events.join(" "));

  // A required call (the grammar holds the reply to the function's schema), then its output.
  const tools = [{ type: "function", name: "get_weather", description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string", minLength: 1, maxLength: 10 } },
      required: ["city"], additionalProperties: false } }];
  const call = await openai.responses.create({ model: "stories260K", temperature: 0, max_output_tokens: 200,
    input: [{ role: "user", content: "Weather in Paris?" }], tools, tool_choice: "required", parallel_tool_calls: false });
  assert.equal(call.status, "completed", JSON.stringify(call));
  const calls = call.output.filter((item) => item.type === "function_call");
  assert.equal(calls.length, 1, JSON.stringify(call.output));
  assert.equal(calls[0].name, "get_weather");
  assert.match(calls[0].call_id, /^[A-Za-z0-9]{9}$/);
  const args = JSON.parse(calls[0].arguments);
  assert.deepEqual(Object.keys(args), ["city"]);
  const streamedCall = openai.responses.stream({ model: "stories260K", temperature: 0, max_output_tokens: 200,
    input: [{ role: "user", content: "Weather in Paris?" }], tools, tool_choice: "required", parallel_tool_calls: false });
  const streamedFinal = await streamedCall.finalResponse();
  const streamedCalls = streamedFinal.output.filter((item) => item.type === "function_call");
  assert.deepEqual(streamedCalls.map((c) => [c.name, JSON.parse(c.arguments)]), [["get_weather", args]]);
  const answer = await openai.responses.create({ model: "stories260K", temperature: 0, max_output_tokens: 8, tools,
    input: [{ role: "user", content: "Weather in Paris?" }, calls[0],
      { type: "function_call_output", call_id: calls[0].call_id, output: JSON.stringify({ temperature: 21 }) }] });
  assert.ok(answer.usage.input_tokens > call.usage.input_tokens);
  assert.equal(answer.output.at(-1).type, "message");

  // text.format: a JSON schema holds the reply (reasoning items: serve_http_test).
  const json = await openai.responses.create({ model: "stories260K", temperature: 0, max_output_tokens: 60,
    input: "A cat:", text: { format: { type: "json_schema", name: "cat", schema: { type: "object",
      properties: { name: { type: "string", maxLength: 8 } }, required: ["name"], additionalProperties: false } } } });
  assert.equal(json.status, "completed", JSON.stringify(json));
  assert.equal(typeof JSON.parse(json.output_text).name, "string");
  assert.ok(!json.output.some((item) => item.type === "reasoning"));

  // Refused, with the field named.
  for (const [body, field] of [
    [{ previous_response_id: "resp_1" }, "previous_response_id"],
    [{ tools: [{ type: "web_search" }] }, "web_search"],
    [{ background: true }, "background"],
    [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "x" }] }] }, "input_image"],
  ]) {
    await assert.rejects(openai.responses.create({ model: "stories260K", input: "x", ...body }),
      (e) => e.status === 400 && e.message.includes(field), field);
  }
});

test("ollama's API: /api/chat and /api/generate as NDJSON, /api/embed, /api/tags, /api/ps", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ember-models-"));
  symlinkSync(tiny, join(dir, "tiny.gguf"));
  symlinkSync(tiny, join(dir, "other.gguf"));
  try {
    const server = await startServer(["--models-dir", dir, "--max-models", "1", "--keep-alive", "2"]);
    const tags = await (await fetch(`${server.url}/api/tags`)).json();
    assert.deepEqual(tags.models.map((m) => m.name), ["other", "tiny"]);
    assert.deepEqual((await (await fetch(`${server.url}/api/ps`)).json()).models, []);

    const chat = await fetch(`${server.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny:latest", messages: [{ role: "user", content: "Hi" }],
        options: { temperature: 0, num_predict: 10 } }),
    });
    assert.equal(chat.headers.get("content-type"), "application/x-ndjson");
    const lines = (await chat.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.length >= 2);
    for (const l of lines.slice(0, -1)) assert.equal(l.done, false);
    const last = lines.at(-1);
    assert.equal(last.done, true);
    assert.equal(last.done_reason, "length");
    assert.equal(last.eval_count, 10);

    const generate = await (await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "other", prompt: "Once upon a time", raw: true, stream: false,
        options: { temperature: 0, num_predict: 12 } }),
    })).json();
    assert.equal(generate.done, true);
    assert.ok(generate.response.length > 10);
    // --max-models 1: loading "other" unloaded "tiny".
    const ps = await (await fetch(`${server.url}/api/ps`)).json();
    assert.deepEqual(ps.models.map((m) => m.name), ["other"]);

    const embed = await (await fetch(`${server.url}/api/embed`, {
      method: "POST",
      body: JSON.stringify({ model: "tiny", input: ["a cat", "a dog"] }),
    })).json();
    assert.equal(embed.embeddings.length, 2);

    const missing = await fetch(`${server.url}/api/generate`, {
      method: "POST",
      body: JSON.stringify({ model: "nothing-here", prompt: "x" }),
    });
    assert.equal(missing.status, 404);
    // --keep-alive 2: idle models are unloaded.
    assert.ok(await until(async () =>
      (await (await fetch(`${server.url}/api/ps`)).json()).models.length === 0, 8000));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two servers behind nginx: one killed under load, new requests keep succeeding", async () => {
  const a = await startServer(["-m", tiny, "-np", "2"]);
  const b = await startServer(["-m", tiny, "-np", "2"]);
  const dir = mkdtempSync(join(tmpdir(), "ember-nginx-"));
  const port = await freePort();
  writeFileSync(join(dir, "nginx.conf"), `
${process.getuid() === 0 ? "user root;" : ""}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  upstream ember {
    server 127.0.0.1:${a.port} max_fails=1 fail_timeout=30s;
    server 127.0.0.1:${b.port} max_fails=1 fail_timeout=30s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://ember;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      # A completion changes nothing on the server, so a request the dead server never
      # answered may go to the other one, though it is a POST.
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
    }
  }
}
`);
  const nginx = spawn("nginx", ["-p", dir, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`,
    "-g", "daemon off;"], { stdio: "ignore" });
  try {
    const url = `http://127.0.0.1:${port}`;
    assert.ok(await until(async () => {
      try { return (await fetch(`${url}/health`)).ok; } catch { return false; }
    }));
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
    let killedAt = 0;
    const failuresAfterKill = [];
    let succeeded = 0;
    const end = Date.now() + 3000;
    a.proc.on("exit", () => { killedAt = Date.now(); });
    setTimeout(() => a.proc.kill("SIGKILL"), 1000);
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < end) {
        const started = Date.now();
        try {
          const r = await openai.completions.create({ model: "x", prompt: "Once", max_tokens: 8 });
          assert.equal(r.usage.completion_tokens, 8);
          ++succeeded;
        } catch (e) {
          // A request in flight on the killed server may fail; one sent after must not.
          if (killedAt && started > killedAt) failuresAfterKill.push(String(e));
        }
      }
    }));
    assert.ok(killedAt > 0);
    assert.deepEqual(failuresAfterKill, []);
    assert.ok(succeeded > 20, `${succeeded} requests succeeded`);
  } finally {
    nginx.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
