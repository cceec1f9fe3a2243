// Load for bench/serve-abuse.sh, in two roles (two processes, so that the attacker's own work
// can run at a lower priority, as if on another machine):
//   normal:  8 streaming chat clients; prints their requests, success rate and p99 time to
//            first token as one JSON line;
//   hostile: a bounded hostile mix: slow and idle connections, JSON nested 100,000 deep, bad
//            UTF-8, bodies over the limit (sized and chunked), two million header lines,
//            exponential grammars, clients that leave mid-request, a foreign web page.
//
//   node bench/serve_abuse.mjs normal|hostile URL SECONDS
import { connect } from "node:net";

const [role, url, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const { hostname, port } = new URL(url);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One normal client: streamed chat completions of 32 tokens, one after another.
async function normal(client, until, out) {
  while (Date.now() < until) {
    const start = performance.now();
    let first = 0, done = false;
    try {
      const r = await fetch(`${url}/v1/chat/completions`, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: `Tell story ${client}` }],
          max_tokens: 32, ignore_eos: true, stream: true }),
      });
      if (!r.ok) throw new Error(`status ${r.status}`);
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const bytes of r.body) {
        buffer += decoder.decode(bytes, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (event === "data: [DONE]") done = true;
          else if (!first && JSON.parse(event.slice(6)).choices?.[0]?.delta?.content) first = performance.now();
        }
      }
      if (!first) first = performance.now();
      out.push({ ok: done, ttft: first - start });
    } catch (e) {
      out.push({ ok: false, ttft: 0, error: String(e) });
    }
  }
}

// Raw bytes on a new connection; resolves when the server closes it or after `ms`.
function raw(bytes, ms = 3000) {
  return new Promise((resolve) => {
    const s = connect(port, hostname);
    const timer = setTimeout(() => s.destroy(), ms);
    s.on("error", () => {});
    s.on("data", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(); });
    s.write(bytes);
  });
}

const post = (path, body, headers = { "Content-Type": "application/json" }) =>
  fetch(`${url}${path}`, { method: "POST", headers, body }).then((r) => r.arrayBuffer()).catch(() => {});

// The hostile mix: each kind in its own loop, one at a time, until `until`.
function hostile(until) {
  const loop = async (fn, pause) => { while (Date.now() < until) { await fn(); await sleep(pause); } };
  // The hostile payloads, made once (the load generator shares the machine's cores).
  const deep = "[".repeat(100000) + "]".repeat(100000);
  const oversized = Buffer.from("x".repeat((8 << 20) + 1));
  const chunked = Buffer.from("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
    ("100000\r\n" + "a".repeat(0x100000) + "\r\n").repeat(9) + "0\r\n\r\n");
  const headerFlood = Buffer.from("GET /health HTTP/1.1\r\nHost: localhost\r\n" + "a: b\r\n".repeat(2000000) + "\r\n");
  const user = JSON.stringify([{ role: "user", content: "hi" }]);
  const slow = [];  // slowloris: 100 connections sending a header byte every 500 ms
  const slowloris = async () => {
    while (slow.length < 100) {
      const s = connect(port, hostname);
      s.on("error", () => {});
      s.on("close", () => slow.splice(slow.indexOf(s), 1));
      s.write("GET /health HTTP/1.1\r\nHost: localhost\r\n");
      slow.push(s);
    }
    for (const s of slow) s.write("X");
  };
  const idle = [];
  const idlers = async () => {
    while (idle.length < 100) {
      const s = connect(port, hostname);
      s.on("error", () => {});
      s.on("close", () => idle.splice(idle.indexOf(s), 1));
      idle.push(s);
    }
  };
  const leave = async (stream) => {
    const abort = new AbortController();
    const p = fetch(`${url}/v1/completions`, { method: "POST", signal: abort.signal,
      body: JSON.stringify({ prompt: "Once", max_tokens: 100000, ignore_eos: true, stream }) })
      .then((r) => r.arrayBuffer()).catch(() => {});
    await sleep(150);
    abort.abort();
    await p;
  };
  const loops = [
    () => loop(slowloris, 500),
    () => loop(idlers, 1000),
    () => loop(() => post("/v1/chat/completions", `{"messages":${user},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deep}}}}`), 100),
    () => loop(() => post("/detokenize", `{"tokens":${deep}}`), 100),
    () => loop(() => post("/v1/completions", Buffer.from('{"prompt":"\xff\xfe\xfd"}', "latin1")), 50),
    () => loop(() => raw(`GET /%ff HTTP/1.1\r\nHost: localhost\r\n\r\n`), 50),
    () => loop(() => post("/v1/completions", oversized), 500),
    () => loop(() => raw(chunked), 1000),
    () => loop(() => raw(headerFlood), 2000),
    () => loop(() => post("/v1/completions", JSON.stringify({ prompt: "Once", max_tokens: 40,
      grammar: 'root ::= x "a"{40}\nx ::= "a" x y | "a" x z | ""\ny ::= ""\nz ::= ""' })), 200),
    () => loop(() => leave(false), 200),
    () => loop(() => leave(true), 200),
    () => loop(() => post("/v1/completions", JSON.stringify({ prompt: "Once", max_tokens: 4 }),
      { Origin: "https://evil.example", "Content-Type": "text/plain" }), 100),
  ];
  // EMBER_ABUSE_ONLY=2,5: only those loops (by index), to see what each costs.
  const only = process.env.EMBER_ABUSE_ONLY?.split(",").map(Number);
  const running = loops.filter((_, i) => !only || only.includes(i)).map((start) => start());
  return Promise.all(running).then(() => { for (const s of [...slow, ...idle]) s.destroy(); });
}

function summary(results) {
  const ok = results.filter((r) => r.ok);
  const ttfts = ok.map((r) => r.ttft).sort((a, b) => a - b);
  const p99 = ttfts.length ? ttfts[Math.min(ttfts.length - 1, Math.floor(ttfts.length * 0.99))] : 0;
  return { requests: results.length, success_rate: results.length ? ok.length / results.length : 0,
    p99_ttft_ms: Math.round(p99), errors: [...new Set(results.filter((r) => !r.ok).map((r) => r.error))].slice(0, 5) };
}

const until = Date.now() + seconds * 1000;
if (role === "hostile") {
  await hostile(until);
} else {
  const results = [];
  await Promise.all(Array.from({ length: 8 }, (_, c) => normal(c, until, results)));
  console.log(JSON.stringify(summary(results)));
}
