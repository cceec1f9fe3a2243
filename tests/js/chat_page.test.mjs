// The chat page of `ember serve` (GET /) in a real browser: Debian's chromium driven by
// puppeteer-core. A message, its reply streaming in, the stop button ending it (the server
// sees the request go and stops generating), the next turn, the theme, and model text shown
// as text.
//
// Environment: as serve.test.mjs; CHROMIUM (default /usr/bin/chromium).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";

import puppeteer from "puppeteer-core";

import { metric, slow, startServer, until } from "./serve_helpers.mjs";

const chromium = process.env.CHROMIUM || "/usr/bin/chromium";

test("chat page: send, stream, stop, the next turn", async () => {
  assert.ok(existsSync(chromium), `no browser at ${chromium} (scripts/install-deps.sh --test installs Debian's chromium)`);
  // A model slow enough on one thread that a long reply is still streaming when stop is
  // clicked.
  const server = await startServer(["-m", slow, "-c", "4096"]);
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const response = await page.goto(server.url, { waitUntil: "load" });
    assert.equal(response.status(), 200);
    assert.match(response.headers()["content-security-policy"], /frame-ancestors 'none'/);
    await page.waitForSelector("#model option");
    assert.equal(await page.$eval("#model", (s) => s.value), "ember-stories-5M-F32");

    // A long reply, stopped while it streams.
    await page.$eval("#max-tokens", (e) => { e.value = "3000"; });
    await page.$eval("#temperature", (e) => { e.value = "0.8"; });
    await page.type("#prompt", "Tell me a long story about a dog <img src=x onerror=alert(1)>");
    await page.click("#send");
    await page.waitForFunction(() => document.querySelector(".msg.assistant .text")?.textContent.length > 40,
      { timeout: 30000 });
    const before = await metric(server, "ember_client_disconnects_total");
    // Checked and clicked in one step in the page, so that the reply cannot end in between;
    // if it did end already, say how.
    const clicked = await page.$eval("#stop", (b) => {
      if (b.hidden) return document.querySelector(".msg.assistant .status")?.textContent ?? "?";
      b.click();
      return "";
    });
    assert.equal(clicked, "", `the reply ended before stop was clicked: ${clicked}`);
    await page.waitForSelector('.msg.assistant[data-done="true"]', { timeout: 10000 });
    assert.equal(await page.$eval(".msg.assistant .status", (s) => s.textContent), "(stopped)");
    assert.ok(await until(async () => (await metric(server, "ember_client_disconnects_total")) > before),
      "the server did not see the reply stopped");
    const generated = await metric(server, "ember_generated_tokens_total");
    assert.ok(generated < 3000, `${generated} tokens: the reply was not stopped`);
    // What the user typed is text, not markup.
    assert.equal(await page.$$eval(".msg img", (imgs) => imgs.length), 0);
    assert.match(await page.$eval(".msg.user .text", (t) => t.textContent), /<img src=x/);

    // The next turn goes with the history and ends by itself (a short limit).
    await page.$eval("#max-tokens", (e) => { e.value = "8"; });
    await page.type("#prompt", "And then?");
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelectorAll('.msg.assistant[data-done="true"]').length === 2,
      { timeout: 30000 });
    const last = await page.$$eval(".msg.assistant", (m) => ({
      text: m.at(-1).querySelector(".text").textContent,
      status: m.at(-1).querySelector(".status").textContent,
    }));
    assert.ok(last.text.length > 0, JSON.stringify(last));
    assert.equal(last.status, "(stopped at the token limit)");

    // Dark and light.
    const dark = await page.$eval("html", (h) => h.classList.contains("dark"));
    await page.click("#theme");
    assert.equal(await page.$eval("html", (h) => h.classList.contains("dark")), !dark);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
