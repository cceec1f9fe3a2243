// Time to first token of a long prompt for bench/serve.sh: one completion of a single token
// after a prompt of about WORDS words (different words for each SEED, so no server can answer
// from a cache of an earlier prompt), from an OpenAI-compatible server (ember serve or
// llama-server), with fetch only. The request's whole time is the time to its first token: the
// prompt's evaluation and one token. Prints one JSON line: ttft_ms and the prompt's length in
// tokens as the server counted it (usage.prompt_tokens).
//
//   node bench/serve_prompt.mjs URL WORDS SEED
const [url, words, seed] = [process.argv[2], ...process.argv.slice(3, 5).map(Number)];
const vocabulary = ["the", "little", "cat", "ran", "across", "a", "green", "field", "and", "saw",
  "bird", "sitting", "on", "old", "tree", "near", "river", "where", "children", "played", "every",
  "morning", "before", "school", "started", "with", "their", "friends", "from", "village", "happy",
  "dog", "jumped", "over", "fence", "into", "garden", "full", "of", "red", "flowers"];
let state = seed * 2654435761 % 4294967296 || 1;
const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
const prompt = Array.from({ length: words }, () => vocabulary[next() % vocabulary.length])
  .join(" ");

const start = performance.now();
const response = await fetch(`${url}/v1/completions`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ prompt, max_tokens: 1, temperature: 0 }),
});
if (!response.ok) {
  console.error(`serve_prompt: ${response.status} ${await response.text()}`);
  process.exit(1);
}
const body = await response.json();
console.log(JSON.stringify({
  ttft_ms: performance.now() - start,
  prompt_tokens: body.usage?.prompt_tokens ?? 0,
}));
