// `ember serve` against hostile clients and web pages: every way one request could end, freeze
// or bloat the server (issue 31), each checked on a real process over real sockets. Each test
// failed on main at f8309c3 (cpp-httplib's server) and passes now.
//
// Environment: as serve.test.mjs (serve_helpers.mjs).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { ember, metric, slow, startServer, tiny, until } from "./serve_helpers.mjs";

// Time bounds are multiplied by this (4 in the sanitizer build, whose threads run slower).
const scale = Number(process.env.EMBER_TIME_SCALE || 1);
// The sanitizer build's allocator keeps freed memory in quarantine: no memory bounds there.
const sanitized = process.env.EMBER_SANITIZED === "1";

// Sends raw bytes on a new connection; resolves with everything received until the server
// closes it or `ms` pass.
function raw(server, bytes, ms = 5000) {
  return new Promise((resolve) => {
    const socket = connect(server.port, "127.0.0.1");
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on("data", (d) => (got = Buffer.concat([got, d])));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(got.toString("latin1"));
    });
    socket.write(bytes);
  });
}

function post(server, path, body, headers = { "Content-Type": "application/json" }) {
  return fetch(`${server.url}${path}`, {
    method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

// Resident memory of a process, in MB.
function rssMB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line.split(/\s+/)[1]) / 1024;
}

async function alive(server) {
  const r = await fetch(`${server.url}/health`);
  return r.status === 200 && server.exitCode === undefined;
}

const nest = (n, open, close) => open.repeat(n) + close.repeat(n);

test("one request cannot end the server: a path that is not UTF-8, deep JSON, huge grammars", async () => {
  const server = await startServer(["-m", tiny, "-c", "256"]);
  const notFound = await raw(server, "GET /%ff HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  assert.match(notFound, /^HTTP\/1\.1 404 /);
  const deep = nest(100000, "[", "]");
  const deeper = nest(1000000, '{"a":', "}");
  const user = [{ role: "user", content: "hi" }];
  for (const [path, body] of [
    ["/detokenize", `{"tokens":${deep}}`],
    ["/v1/chat/completions", `{"messages":${JSON.stringify(user)},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deeper}}}}`],
    ["/api/chat", `{"model":"m","messages":${JSON.stringify(user)},"format":${deeper}}`],
    ["/api/chat", `{"model":"m","messages":${JSON.stringify(user)},"options":${deeper}}`],
    ["/api/embed", `{"model":"m","input":${deep}}`],
  ]) {
    const r = await post(server, path, body);
    assert.equal(r.status, 400, path);
    assert.match(JSON.stringify(await r.json()), /deeper than 128/);
  }
  // 4,101 chained rules: refused when compiled.
  let chain = "root ::= r0\n";
  for (let i = 0; i < 4100; ++i) chain += `r${i} ::= r${i + 1}\n`;
  chain += 'r4100 ::= "a"\n';
  assert.equal((await post(server, "/v1/completions", { prompt: "Once", grammar: chain })).status, 400);
  // One that reaches 4,200 levels only after its first character: an error mid-generation.
  let forced = 'root ::= "a" c0\n';
  for (let i = 0; i < 4200; ++i) forced += `c${i} ::= c${i + 1}\n`;
  forced += 'c4200 ::= "b"\n';
  const mid = await post(server, "/v1/completions", { prompt: "Once", grammar: forced, max_tokens: 8 });
  assert.equal(mid.status, 400);
  assert.match((await mid.json()).error.message, /grammar/);
  assert.ok(await alive(server));
});

test("an exponential grammar cannot hold the model: other clients are answered", async () => {
  const server = await startServer(["-m", tiny, "-np", "2", "-c", "256", "--timeout", "5"]);
  const grammar = 'root ::= x "a"{40}\nx ::= "a" x y | "a" x z | ""\ny ::= ""\nz ::= ""';
  const started = Date.now();
  const hostile = post(server, "/v1/completions", { prompt: "Once", grammar, max_tokens: 40 });
  const other = await post(server, "/v1/completions", { prompt: "Once", max_tokens: 4 });
  assert.equal(other.status, 200);
  assert.ok(Date.now() - started < 3000 * scale, `the other client waited ${Date.now() - started} ms`);
  const r = await hostile;
  assert.ok(r.status === 400 || r.status === 504, String(r.status));
  assert.ok(Date.now() - started < 6000 * scale);
});

test("idle and header-trickling connections do not starve the server", async () => {
  const server = await startServer(["-m", tiny, "--max-connections", "64"]);
  const sockets = [];
  for (let i = 0; i < 140; ++i) {
    const s = connect(server.port, "127.0.0.1");
    s.on("error", () => {});
    sockets.push(s);
  }
  // Twenty more send a header a byte every 200 ms.
  const header = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(100);
  const trickle = [];
  for (let i = 0; i < 20; ++i) {
    const s = connect(server.port, "127.0.0.1");
    s.on("error", () => {});
    let at = 0;
    trickle.push(setInterval(() => { if (at < header.length) s.write(header[at++]); }, 200));
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 1000));
  try {
    for (let i = 0; i < 5; ++i) {
      const started = Date.now();
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      assert.ok(Date.now() - started < 1000 * scale);
      const c = await post(server, "/v1/completions", { prompt: "Once", max_tokens: 4 });
      assert.equal(c.status, 200);
    }
    assert.ok((await metric(server, "ember_connections_refused_total")) > 0);
  } finally {
    for (const t of trickle) clearInterval(t);
    for (const s of sockets) s.destroy();
  }
});

test("a fast generation whose client left stops generating within half a second", async () => {
  const server = await startServer(["-m", tiny, "-np", "1", "-c", "2048"]);
  const abort = new AbortController();
  const p = fetch(`${server.url}/v1/completions`, {
    method: "POST", signal: abort.signal,
    body: JSON.stringify({ prompt: "Once", max_tokens: 1000000, ignore_eos: true }),
  }).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  abort.abort();
  await p;
  const left = Date.now();
  assert.ok(await until(async () => (await metric(server, "ember_slots_busy")) === 0, 3000 * scale));
  assert.ok(Date.now() - left < 500 * scale, `the slot stayed busy ${Date.now() - left} ms`);
});

test("embeddings honour --timeout and clients that leave, and do not wait behind each other", async () => {
  const texts = Array.from({ length: 2048 }, (_, i) => `Text number ${i}: ` + "the cat sat on the mat. ".repeat(20));
  // A small request shares the next forward pass with a large one (seconds of work).
  const server = await startServer(["-m", slow, "-c", "512"]);
  const abort = new AbortController();
  const big = fetch(`${server.url}/v1/embeddings`, {
    method: "POST", signal: abort.signal, body: JSON.stringify({ input: texts }),
  }).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  let started = Date.now();
  const small = await post(server, "/v1/embeddings", { input: "hello", encoding_format: "float" });
  assert.equal(small.status, 200);
  assert.ok(Date.now() - started < 1500 * scale, `a small request waited ${Date.now() - started} ms`);
  // Concurrent small requests all succeed (sharing passes).
  const many = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    post(server, "/api/embed", { model: "m", input: [`a text ${i}`, `another ${i}`] })));
  for (const m of many) {
    assert.equal(m.status, 200);
    assert.equal((await m.json()).embeddings.length, 2);
  }
  // The large request's client leaves: its work stops.
  abort.abort();
  await big;
  assert.ok(await until(async () => (await metric(server, "ember_client_disconnects_total")) >= 1, 1000 * scale));
  // --timeout: 504 once it passes.
  const limited = await startServer(["-m", slow, "-c", "512", "--timeout", "2"]);
  started = Date.now();
  const late = await post(limited, "/v1/embeddings", { input: texts });
  assert.equal(late.status, 504);
  assert.ok(Date.now() - started < 4000 * scale);
});

test("bodies and headers are bounded whatever their framing; memory comes back", async () => {
  const server = await startServer(["-m", tiny, "--max-body", "65536"]);
  const chunk = "a".repeat(16384);
  let chunked = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (let i = 0; i < 8; ++i) chunked += `4000\r\n${chunk}\r\n`;
  chunked += "0\r\n\r\n";
  assert.match(await raw(server, chunked), /^HTTP\/1\.1 413 /);
  // No Content-Length: the body is none, what follows is not a request.
  const noLength = await raw(server, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + "x".repeat(1 << 20));
  assert.match(noLength, /^HTTP\/1\.1 400 /);
  const before = rssMB(server.proc.pid);
  let lines = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  lines += "a: b\r\n".repeat(2000000);
  assert.match(await raw(server, lines + "\r\n"), /^HTTP\/1\.1 431 /);
  const big = await startServer(["-m", tiny, "--max-body", String(8 << 20)]);
  const text = "a ".repeat(1 << 20);
  assert.equal((await post(big, "/tokenize", { content: text, with_pieces: true })).status, 400);
  const bigBefore = rssMB(big.proc.pid);
  for (let i = 0; i < 4; ++i) {
    const r = await post(big, "/tokenize", { content: "a ".repeat(500000), with_pieces: true });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }
  const growth = rssMB(big.proc.pid) - bigBefore;
  if (!sanitized) {
    assert.ok(growth < 100, `resident memory grew by ${growth} MB`);
    assert.ok(rssMB(server.proc.pid) - before < 20);
  }
  assert.ok(await alive(server));
});

test("browsers: other sites can neither drive nor read the server; DNS rebinding is refused", async () => {
  const server = await startServer(["-m", tiny]);
  const body = JSON.stringify({ prompt: "Once", max_tokens: 2 });
  const evil = await post(server, "/v1/completions", body,
    { Origin: "https://evil.example", "Content-Type": "text/plain" });
  assert.equal(evil.status, 403);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  const evilRead = await fetch(`${server.url}/v1/models`, { headers: { Origin: "https://evil.example" } });
  assert.equal(evilRead.status, 403);
  const local = await post(server, "/v1/completions", body,
    { Origin: "http://localhost:5173", "Content-Type": "application/json" });
  assert.equal(local.status, 200);
  assert.equal(local.headers.get("access-control-allow-origin"), "http://localhost:5173");
  const plain = await post(server, "/v1/completions", body,
    { Origin: "http://localhost:5173", "Content-Type": "text/plain" });
  assert.equal(plain.status, 415);
  const rebound = await raw(server, "GET /v1/models HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n");
  assert.match(rebound, /^HTTP\/1\.1 403 /);
  const allowed = await startServer(["-m", tiny, "--cors-origin", "https://app.example"]);
  const app = await fetch(`${allowed.url}/v1/models`, { headers: { Origin: "https://app.example" } });
  assert.equal(app.status, 200);
  assert.equal(app.headers.get("access-control-allow-origin"), "https://app.example");
});

test("keys: from a file or EMBER_API_KEY, any case of Bearer; beyond loopback without one, a warning", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ember-key-"));
  try {
    writeFileSync(join(dir, "key"), "s3cret\n");
    const fromFile = await startServer(["-m", tiny, "--api-key-file", join(dir, "key")]);
    const models = (auth) => fetch(`${fromFile.url}/v1/models`, { headers: auth ? { Authorization: auth } : {} });
    assert.equal((await models()).status, 401);
    assert.equal((await models("Bearer s3cret")).status, 200);
    assert.equal((await models("bearer s3cret")).status, 200);
    assert.equal((await models("Bearer s3cre")).status, 401);
    process.env.EMBER_API_KEY = "fromenv";
    const fromEnv = await startServer(["-m", tiny]);
    delete process.env.EMBER_API_KEY;
    assert.equal((await fetch(`${fromEnv.url}/v1/models`)).status, 401);
    assert.equal((await fetch(`${fromEnv.url}/v1/models`, { headers: { Authorization: "Bearer fromenv" } })).status, 200);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // 0.0.0.0 without a key: served, with a warning; an IPv6 address printed in brackets.
  for (const [host, shown] of [["0.0.0.0", /http:\/\/0\.0\.0\.0:\d+/], ["::1", /http:\/\/\[::1\]:\d+/]]) {
    const proc = spawn(ember, ["serve", "-m", tiny, "--host", host, "--port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    proc.stderr.on("data", (d) => (log += d));
    assert.ok(await until(async () => /listening on http/.test(log), 5000 * scale), log);
    proc.kill("SIGKILL");
    assert.match(log, shown);
    if (host === "0.0.0.0") assert.match(log, /warning: listening on 0\.0\.0\.0 without an API key/);
    else assert.doesNotMatch(log, /warning/);
  }
});

test("models: a NUL cannot name a file; a broken file is the server's error and unloads nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ember-models-"));
  try {
    symlinkSync(tiny, join(dir, "tiny.gguf"));
    copyFileSync(tiny, join(dir, "tiny"));  // no extension: never served
    writeFileSync(join(dir, "broken.gguf"), "GGUF not really");
    writeFileSync(Buffer.concat([Buffer.from(dir + "/bad-"), Buffer.from([0xff]), Buffer.from(".gguf")]), "x");
    const server = await startServer(["--models-dir", dir, "--max-models", "1"]);
    const list = await fetch(`${server.url}/v1/models`);
    assert.equal(list.status, 200);
    assert.deepEqual((await list.json()).data.map((m) => m.id).sort(), ["broken", "tiny"]);
    const nul = await post(server, "/v1/completions", { model: "tiny\u0000", prompt: "Once", max_tokens: 2 });
    assert.equal(nul.status, 404);
    assert.equal((await post(server, "/v1/completions", { model: "tiny", prompt: "Once", max_tokens: 2 })).status, 200);
    const broken = await post(server, "/v1/completions", { model: "broken", prompt: "Once", max_tokens: 2 });
    assert.equal(broken.status, 500);
    assert.match((await broken.json()).error.message, /cannot be loaded/);
    const ps = await (await fetch(`${server.url}/api/ps`)).json();
    assert.deepEqual(ps.models.map((m) => m.name), ["tiny"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// One request on a keep-alive connection; resolves with its status and time.
function timedRequest(agent, port, body) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = httpRequest({ host: "127.0.0.1", port, path: "/v1/completions", method: "POST",
      agent, headers: { "Content-Type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

test("small things: no Nagle wait, pipelining, 400s for bad input, max_tokens 0, unhonoured fields", async () => {
  const server = await startServer(["-m", tiny]);
  // Requests after the first on a kept-alive connection do not wait for a delayed ACK (~40 ms).
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const times = [];
  for (let i = 0; i < 12; ++i) times.push((await timedRequest(agent, server.port, { prompt: "Once", max_tokens: 1 })).ms);
  agent.destroy();
  times.sort((a, b) => a - b);
  assert.ok(times[6] < 30 * scale, `median ${times[6]} ms per request on a kept-alive connection`);
  // Four pipelined requests, four answers in order.
  const req = (path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
  const piped = await raw(server, req("/health") + req("/v1/models") + req("/health") +
    "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  assert.equal(piped.match(/HTTP\/1\.1 200 /g)?.length, 4, piped);
  assert.ok(piped.indexOf('"status":"ok"') < piped.indexOf('"object":"list"'));
  for (const body of ['{"prompt":"Once","temperature":1e999}', Buffer.from('{"prompt":"\xff\xfe"}', "latin1"),
    '{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}']) {
    const r = await fetch(`${server.url}/v1/completions`, { method: "POST", body });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get("exception_what"), null);
  }
  assert.equal(await metric(server, "ember_requests_in_flight"), 1);  // the /metrics request
  const zero = await (await post(server, "/v1/completions", { prompt: "Once", max_tokens: 0 })).json();
  assert.equal(zero.usage.completion_tokens, 0);
  const ollamaZero = await (await post(server, "/api/generate", { model: "m", prompt: "Once", stream: false, options: { num_predict: 0 } })).json();
  assert.equal(ollamaZero.eval_count, 0);
  for (const extra of [{ logit_bias: { 99999: 5 } }, { logit_bias: { 1: 500 } }, { suffix: "x" }, { frobnicate: 1 }]) {
    const r = await post(server, "/v1/completions", { prompt: "Once", max_tokens: 1, ...extra });
    assert.equal(r.status, 400, JSON.stringify(extra));
  }
  // Honoured now: a bias inside the vocabulary and echo.
  for (const extra of [{ logit_bias: { 1: 5 } }, { echo: true }]) {
    const r = await post(server, "/v1/completions", { prompt: "Once", max_tokens: 1, ...extra });
    assert.equal(r.status, 200, JSON.stringify(extra));
  }
  // curl's default form type on a body over 8 KB is read as the JSON it is.
  const padded = JSON.stringify({ prompt: "Once", max_tokens: 1, user: "u".repeat(9000) });
  const form = await post(server, "/v1/completions", padded, { "Content-Type": "application/x-www-form-urlencoded" });
  assert.equal(form.status, 200);
});

test("SIGTERM: requests waiting for a slot still run within the grace period", async () => {
  const server = await startServer(["-m", slow, "-np", "1", "-c", "2048", "--shutdown-timeout", "60"]);
  const first = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({ prompt: "Once", max_tokens: 300, temperature: 0, stream: true }),
  });
  const reader = first.body.getReader();
  await reader.read();
  const queued = post(server, "/v1/completions", { prompt: "Once upon", max_tokens: 8 });
  await until(async () => (await metric(server, "ember_queue_depth")) === 1, 2000 * scale);
  const exited = new Promise((resolve) => server.proc.on("exit", resolve));
  server.proc.kill("SIGTERM");
  while (!(await reader.read()).done) { /* the stream ends normally */ }
  const r = await queued;
  assert.equal(r.status, 200);
  assert.equal((await r.json()).usage.completion_tokens, 8);
  assert.equal(await exited, 0);
});
