// `ember embed` into real vector stores, as a local-first app would use them:
//   - PGlite (Postgres in WebAssembly) with pgvector: the SQL of --format pgvector, run as is;
//   - SQLite (better-sqlite3) with sqlite-vec: the vectors of --format jsonl in a vec0 table.
// In each, a nearest-neighbour query must rank the texts as the cosine similarity computed
// here from the vectors themselves does.
//
// Environment: EMBER_BIN (the ember binary), EMBER_SHARED or EMBER_DEFAULT_SHARED (../shared).
// Run by CTest (tests/CMakeLists.txt); the packages come from `npm ci` in this folder, which
// scripts/install-deps.sh runs (an import error here means it has not run).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";

import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import Database from "better-sqlite3";
import * as sqliteVec from "sqlite-vec";

const ember = process.env.EMBER_BIN;
const shared = process.env.EMBER_SHARED || process.env.EMBER_DEFAULT_SHARED;
assert.ok(ember && shared, "set EMBER_BIN and EMBER_SHARED");
const model = `${shared}/arch/models/mini-bert-Q8_0.gguf`;

const texts = [
  "The cat sat on the mat.",
  "A small kitten is sleeping on a rug.",
  "Stock markets fell sharply after the announcement.",
  "How do I reset my password?",
  "Dogs love to play fetch in the park.",
  "The central bank raised interest rates again.",
  "Click 'Forgot password' on the sign-in page.",
  "It's raining: take an umbrella, or \"stay\" home.",
];
const query = "My kitten naps on the carpet.";

function embed(format, input) {
  return execFileSync(ember, ["embed", "-m", model, "--format", format, "-t", "2"], {
    input: input.join("\n") + "\n",
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
}

const rows = embed("jsonl", texts).trim().split("\n").map((line) => JSON.parse(line));
const queryVector = JSON.parse(embed("jsonl", [query]))["embedding"];

function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

// The expected ranking, most similar first, and the similarities to tell ties.
const similarity = rows.map((r) => cosine(r.embedding, queryVector));
const expected = [...similarity.keys()].sort((a, b) => similarity[b] - similarity[a]);

// A store's ranking must be the expected one, except that texts whose similarities differ by
// less than float rounding may trade places.
function assertSameRanking(got, store) {
  assert.equal(got.length, expected.length, `${store}: every text comes back`);
  for (let i = 0; i < got.length; ++i) {
    if (got[i] === expected[i]) continue;
    assert.ok(
      Math.abs(similarity[got[i]] - similarity[expected[i]]) < 1e-5,
      `${store}: rank ${i} is text ${got[i]}, expected ${expected[i]} (${got} vs ${expected})`,
    );
  }
}

test("jsonl holds every text with a unit vector of the model's width", () => {
  assert.equal(rows.length, texts.length);
  rows.forEach((r, i) => {
    assert.equal(r.index, i);
    assert.equal(r.text, texts[i]);
    assert.equal(r.embedding.length, 128);
    assert.ok(Math.abs(Math.hypot(...r.embedding) - 1) < 1e-5);
  });
  assert.notEqual(expected[0], 2, "a kitten text should not rank the stock market first");
});

test("pgvector in PGlite ranks as the cosine similarity", async () => {
  const db = await PGlite.create({ extensions: { vector } });
  await db.exec(embed("pgvector", texts));
  const count = await db.query("SELECT count(*)::int AS n FROM embeddings");
  assert.equal(count.rows[0].n, texts.length);
  const stored = await db.query("SELECT content FROM embeddings ORDER BY id");
  assert.deepEqual(stored.rows.map((r) => r.content), texts);  // quotes survive the SQL
  const result = await db.query(
    "SELECT id, 1 - (embedding <=> $1::vector) AS similarity FROM embeddings " +
      "ORDER BY embedding <=> $1::vector",
    [JSON.stringify(queryVector)],
  );
  assertSameRanking(result.rows.map((r) => r.id), "pgvector");
  result.rows.forEach((r) => assert.ok(Math.abs(r.similarity - similarity[r.id]) < 1e-5));
  await db.close();
});

test("sqlite-vec in SQLite ranks as the cosine similarity", () => {
  const db = new Database(":memory:");
  sqliteVec.load(db);
  db.exec("CREATE VIRTUAL TABLE items USING vec0(embedding float[128] distance_metric=cosine)");
  const insert = db.prepare("INSERT INTO items(rowid, embedding) VALUES (?, ?)");
  for (const r of rows) insert.run(BigInt(r.index), new Float32Array(r.embedding));
  const result = db
    .prepare("SELECT rowid, distance FROM items WHERE embedding MATCH ? AND k = ? ORDER BY distance")
    .all(new Float32Array(queryVector), texts.length);
  assertSameRanking(result.map((r) => Number(r.rowid)), "sqlite-vec");
  result.forEach((r) => assert.ok(Math.abs(1 - r.distance - similarity[Number(r.rowid)]) < 1e-5));
  db.close();
});
