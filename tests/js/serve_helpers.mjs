// What the tests of `ember serve` share: starting a server on a free port, the openai client,
// reading /metrics, waiting for a condition.
//
// Environment: EMBER_BIN (the ember binary), EMBER_SOURCE (the repository: its bundled model),
// EMBER_SHARED or EMBER_DEFAULT_SHARED (../shared: larger models).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { after } from "node:test";

import OpenAI from "openai";

export const ember = process.env.EMBER_BIN;
export const source = process.env.EMBER_SOURCE;
export const shared = process.env.EMBER_SHARED || process.env.EMBER_DEFAULT_SHARED;
assert.ok(ember && source && shared, "set EMBER_BIN, EMBER_SOURCE and EMBER_SHARED");
export const tiny = `${source}/models/stories260K.gguf`;
// Slow enough on one thread that a prompt of thousands of tokens takes seconds.
export const slow = `${shared}/models/ember-stories-5M/ember-stories-5M-F32.gguf`;

const servers = [];
after(() => {
  for (const s of servers) s.proc.kill("SIGKILL");
});

// Starts `ember serve` on a free port; resolves once it listens.
export function startServer(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(ember, ["serve", "--port", "0", "-t", "1", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    const server = { proc, log: () => log };
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m && !server.port) {
        server.port = Number(m[1]);
        server.url = `http://127.0.0.1:${server.port}`;
        servers.push(server);
        resolve(server);
      }
    });
    proc.on("exit", (code) => {
      server.exitCode = code;
      if (!server.port) reject(new Error(`ember serve exited ${code}: ${log}`));
    });
  });
}

export function client(server, apiKey = "none") {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 60000 });
}

export async function metric(server, name) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

export async function until(condition, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

