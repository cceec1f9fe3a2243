// Load for bench/serve.sh: C concurrent clients, each streaming R chat-less completions of N
// tokens from an OpenAI-compatible server (ember serve or llama-server), with fetch only.
// Prints one JSON line: aggregate generated tokens/s, mean and worst time to first token, the
// best per-stream generation rate of the first client (for the single-client run), and how many
// requests failed (refused, or cut off before their last token; each also on stderr).
//
//   node bench/serve_load.mjs URL CLIENTS ROUNDS TOKENS
const [url, clients, rounds, tokens] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
const subjects = ["a cat", "a dog", "a bird", "the sea", "a king", "a tree", "the moon", "a boy",
  "a girl", "a car", "a cake", "a ball", "a fish", "a frog", "the sun", "a bear"];

// One streamed completion; a failed one (refused, or cut off) counts as failed, not as a crash.
async function one(client, round) {
  try {
    return await stream(client, round);
  } catch (e) {
    console.error(`client ${client} request ${round + 1}: ${e.cause?.message ?? e.message}`);
    return { ttft: 0, n: 0, rate: 0, failed: 1 };
  }
}

async function stream(client, round) {
  const start = performance.now();
  const response = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      prompt: `Once upon a time there was ${subjects[client % 16]} who had ${round + 2} friends.`,
      max_tokens: tokens, temperature: 0, stream: true, ignore_eos: true,
    }),
  });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  const decoder = new TextDecoder();
  let buffer = "", first = 0, last = 0, n = 0;
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      const chunk = JSON.parse(event.slice(6));
      if (chunk.choices?.[0]?.text) {
        ++n;
        last = performance.now();
        if (!first) first = last;
      }
    }
  }
  if (n < tokens) throw new Error(`the stream ended after ${n} of ${tokens} tokens`);
  return { ttft: first - start, n, rate: n > 1 ? (n - 1) / ((last - first) / 1000) : 0, failed: 0 };
}

const start = performance.now();
const results = await Promise.all(Array.from({ length: clients }, async (_, c) => {
  const out = [];
  for (let r = 0; r < rounds; ++r) out.push(await one(c, r));
  return out;
}));
const seconds = (performance.now() - start) / 1000;
const done = results.flat();
const all = done.filter((r) => !r.failed);
const generated = all.reduce((s, r) => s + r.n, 0);
console.log(JSON.stringify({
  tokens_per_s: generated / seconds,
  generated,
  ttft_ms_mean: all.reduce((s, r) => s + r.ttft, 0) / all.length,
  ttft_ms_max: Math.max(...all.map((r) => r.ttft)),
  stream_rate: Math.max(...results[0].map((r) => r.rate)),
  failed: done.length - all.length,
}));
